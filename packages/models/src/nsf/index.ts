export { SplineFlow, SPLINE_FLOW_CHECKPOINT_KIND, resolveSplineFlowConfig, type SplineFlowConfig, type ResolvedSplineFlowConfig } from './spline-flow';
