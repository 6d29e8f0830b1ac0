export { SplineFlow, SPLINE_FLOW_CHECKPOINT_KIND, resolveSplineFlowConfig, type SplineFlowConfig, type ResolvedSplineFlowConfig, type SplineFlowMixing } from './spline-flow';
