/** gm's and tfjs's activation names as the activations a portable network knows. */
import { GmError, type PortableActivation } from '@gm/core';

const PORTABLE: readonly PortableActivation[] = ['linear', 'relu', 'elu', 'selu', 'tanh', 'sigmoid', 'softplus'];

/** The portable activation of a layer's activation name, or a GmError naming the layer. */
export function portableActivation(name: string, where: string): PortableActivation {
  if ((PORTABLE as readonly string[]).includes(name)) return name as PortableActivation;
  throw new GmError('UNSUPPORTED', where, `activation "${name}" has no portable form (portable: ${PORTABLE.join(', ')})`);
}
