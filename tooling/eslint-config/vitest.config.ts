import { gmProject } from '@gm/vitest-config';

export default gmProject('eslint-config');
