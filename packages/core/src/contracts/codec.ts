/**
 * The codec contract (craystack's): a codec is a pair of pure functions over an entropy coder's message. `push`
 * returns a message with the symbol added, `pop` returns the message with the last pushed symbol removed and that
 * symbol. Neither changes the message it is given, so an earlier message stays valid (try two codings, keep the
 * shorter). Bigger codecs — a whole image, a bits-back step — are built by composing smaller ones.
 */

/** An entropy coder's state (an rANS message of @gm/bitsback). Opaque outside the coder. */
export interface Message {
  /** Independent coder heads ("lanes") sharing one stack. */
  readonly lanes: number;
}

/** A codec of symbols `S` over messages `M` (a coder narrows `M` to its own message type). */
export interface Codec<S, M extends Message = Message> {
  push(message: M, symbol: S): M;
  pop(message: M): [M, S];
}
