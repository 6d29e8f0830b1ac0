/**
 * rANS (range asymmetric numeral systems) with exact integer arithmetic.
 *
 * ## Design
 *
 * A {@link Message} has `lanes` heads plus one stack of 16-bit units shared by every lane.
 *
 * - **Head range.** An open head `x` satisfies `2^32 ≤ x < 2^48` ({@link HEAD_LOWER}, {@link HEAD_UPPER}). Heads
 *   live in a `Float64Array`: every value and every intermediate product stays below 2^53, so doubles hold them
 *   exactly and no operation ever rounds. (A 32-bit word stack would need 56-bit heads for 24-bit precision, which
 *   doubles cannot hold; BigInt would be far too slow in the inner loop.)
 * - **Precision.** Every push/pop names its own precision `p` (1 ≤ p ≤ 32): the symbol occupies `[start,
 *   start + freq)` out of `M = 2^p`. `2^32` is a multiple of every such `M`, which is what makes the
 *   renormalisation below exactly reversible.
 * - **Renormalisation rule.** Before pushing `(start, freq)` at precision `p`, while `x ≥ freq · 2^(48 − p)` the low
 *   16 bits of `x` move to the stack and `x ← ⌊x / 2^16⌋`. Then `x ← ⌊x / freq⌋ · M + (x mod freq) + start`.
 *   Popping reads `slot = x mod M`, the caller maps it to `(start, freq)`, then
 *   `x ← freq · ⌊x / M⌋ + slot − start` and, while `x < 2^32`, `x ← x · 2^16 + (unit pulled from the stack)`.
 *   Each rule is the exact inverse of the other, so every lane always returns to a head in range.
 * - **Clean bits.** Popping from an empty stack draws a seeded pseudo-random unit ("clean bits", counter based so
 *   a decoder can regenerate them); {@link Message.cleanUnits} counts them. Bits-back coding needs these to start.
 *   A message can instead be told to throw ({@link ExhaustedMessageError}) — decoders do that, since pulling from
 *   an exhausted stack there can only mean a corrupt or truncated input.
 * - **Closed lanes cost nothing.** A lane may be *closed* (head 0). {@link openLane} fills a closed head with 32
 *   bits pulled from the stack (`x = 2^32 + v`), {@link closeLane} gives them back. Opening lanes as they are first
 *   needed, instead of starting every head full, is what keeps start-up state from costing rate: a new lane's
 *   head is paid for by bits other lanes already pushed. {@link flatten} writes each head in 5 + (bitlength − 1)
 *   bits (a closed head in 5), i.e. only the bits it holds.
 *
 * **Messages are values.** push and pop return a new message and never change the one they are given, so an earlier
 * message stays valid (try two codings, keep the shorter; undo by keeping the old one) — craystack's functional
 * style. Inside one operation the coder works on a mutable {@link RansState} (heads copied, the stack appended in
 * place when this message owns its top, copied first otherwise), so a batched codec pays one copy of the heads per
 * call, not per symbol.
 */
import type { Message as CoreMessage } from '@gm/core';

/** Lower bound (inclusive) of an open head: 2^32. */
export const HEAD_LOWER = 4294967296;
/** Upper bound (exclusive) of an open head: 2^48. */
export const HEAD_UPPER = 281474976710656;
/** Width in bits of the units the stack holds. */
export const UNIT_BITS = 16;
/** Largest per-call precision in bits. */
export const MAX_PRECISION = 32;

const UNIT = 65536;
const INV_UNIT = 1 / 65536;

/** 2^k for k = 0..64, exact doubles. */
const POW2 = Float64Array.from({ length: 65 }, (_, k) => 2 ** k);
/** 2^−k for k = 0..64, exact doubles. */
const INV_POW2 = Float64Array.from({ length: 65 }, (_, k) => 2 ** -k);

/** Thrown when a decoder needs more data than the message holds (a truncated or corrupt input). */
export class ExhaustedMessageError extends Error {
  constructor(message = 'rANS message exhausted: the input is truncated or corrupt') {
    super(message);
    this.name = 'ExhaustedMessageError';
  }
}

/** Thrown when flattened bytes or a message state are not a valid rANS message. */
export class CorruptMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptMessageError';
  }
}

/** What popping from an empty stack does: draw seeded clean bits, or throw {@link ExhaustedMessageError}. */
export type OnEmpty = 'clean' | 'throw';

/**
 * Stack storage shared by the messages of one lineage: units `[0, top)` are written and never change again, so a
 * message that ends at `top` may append in place and any other copies first (once per operation: the copy is the
 * operation's own until it closes).
 */
export interface StackBuffer {
  data: Uint16Array;
  top: number;
}

/** An rANS message (a value: never changed in place): one head per lane and a stack of 16-bit units. */
export interface Message extends CoreMessage {
  /** Number of lanes. */
  readonly lanes: number;
  /** Heads, one per lane: 0 when the lane is closed, else in [{@link HEAD_LOWER}, {@link HEAD_UPPER}). Do not write. */
  readonly heads: Float64Array;
  /** Number of units on the stack. */
  readonly size: number;
  /** Seed of the clean-bit sequence. */
  readonly seed: number;
  /** How many clean units (16 bits each) have been drawn so far. */
  readonly cleanUnits: number;
  /** What happens when a pop needs a unit and the stack is empty. */
  readonly onEmpty: OnEmpty;
  /** The stack's storage (units `[0, size)` are this message's). */
  readonly buffer: StackBuffer;
}

/** The coder's working state during one operation: a message being changed, opened from a {@link Message} by each operation and closed into a new one. */
export interface RansState {
  readonly lanes: number;
  heads: Float64Array;
  /** Stack storage; only `stack[0 .. size)` is meaningful (bottom first). */
  stack: Uint16Array;
  size: number;
  readonly seed: number;
  cleanUnits: number;
  onEmpty: OnEmpty;
  buffer: StackBuffer;
  /** Whether this operation appended to `buffer` (it then owns the units it wrote). */
  appended: boolean;
  /**
   * Whether `buffer` was allocated by this operation: no other message can see it yet, so every unit may be
   * rewritten in place (a pop below the copy point followed by a push does not copy again).
   */
  private: boolean;
}

/** A message as a working state (its heads copied; the stack shared until the first write). */
export function openState(m: Message): RansState {
  return {
    lanes: m.lanes,
    heads: m.heads.slice(),
    stack: m.buffer.data,
    size: m.size,
    seed: m.seed,
    cleanUnits: m.cleanUnits,
    onEmpty: m.onEmpty,
    buffer: m.buffer,
    appended: false,
    private: false,
  };
}

/** The message a working state ends as (the state must not be used afterwards). */
export function closeState(s: RansState): Message {
  // A private buffer holds only this state's units: those above its size are dead. A shared one keeps what others
  // wrote above this state's top.
  if (s.private) s.buffer.top = s.size;
  else if (s.appended) s.buffer.top = Math.max(s.buffer.top, s.size);
  return { lanes: s.lanes, heads: s.heads, size: s.size, seed: s.seed, cleanUnits: s.cleanUnits, onEmpty: s.onEmpty, buffer: s.buffer };
}

/** Runs `f` on a working state of `m` and returns the resulting message. */
function update(m: Message, f: (s: RansState) => void): Message {
  const s = openState(m);
  f(s);
  return closeState(s);
}

/** The units `[0, size)` of a message (a view; do not write). */
export function stackUnits(m: Message): Uint16Array {
  return m.buffer.data.subarray(0, m.size);
}

/** Options for {@link createMessage}. */
export interface CreateMessageOptions {
  /** Seed for the clean bits (any 32-bit integer; default 0). */
  seed?: number;
  /** Start lanes closed (head 0) instead of open at {@link HEAD_LOWER} (default false). */
  closed?: boolean;
  /** What popping from an empty stack does (default `'clean'`). */
  onEmpty?: OnEmpty;
  /** Initial stack capacity in units (default 1024). */
  capacity?: number;
}

function checkLanes(lanes: number): void {
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > 1 << 24) {
    throw new RangeError(`lanes must be an integer in [1, 2^24], got ${lanes}`);
  }
}

/**
 * A new, empty message. By default every head starts at the bottom of its range ({@link HEAD_LOWER}), so the
 * message holds no information and flattening it costs 5 + 32 bits per lane; pass `closed: true` to start with
 * closed lanes (5 bits each) and open them with {@link openLane} when first used.
 */
export function createMessage(lanes: number, options: CreateMessageOptions = {}): Message {
  checkLanes(lanes);
  const capacity = Math.max(16, Math.floor(options.capacity ?? 1024));
  const heads = new Float64Array(lanes);
  if (options.closed !== true) heads.fill(HEAD_LOWER);
  return {
    lanes,
    heads,
    buffer: { data: new Uint16Array(capacity), top: 0 },
    size: 0,
    seed: (options.seed ?? 0) | 0,
    cleanUnits: 0,
    onEmpty: options.onEmpty ?? 'clean',
  };
}

/** The same message with another policy for popping an empty stack (decoders use `'throw'`). */
export function withOnEmpty(m: Message, onEmpty: OnEmpty): Message {
  return { ...m, onEmpty };
}

/**
 * The k-th clean unit of a seed (16 bits). Counter based (a murmur3-style finaliser of seed and k), so a decoder
 * can regenerate and check the units an encoder drew without replaying its state.
 */
export function cleanUnit(seed: number, k: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0xffff;
}

/**
 * Makes room for `extra` more units on the stack and the right to write them: appends in place when this state ends
 * where the shared storage's written units end, or past them with units this operation wrote itself; else (another
 * message owns units past this one's top) copies first.
 */
export function reserve(m: RansState, extra: number): void {
  const need = m.size + extra;
  const owned = m.private || m.size === m.buffer.top || (m.appended && m.size > m.buffer.top);
  if (owned && need <= m.stack.length) {
    m.appended = true;
    return;
  }
  let cap = Math.max(16, m.stack.length);
  while (cap < need) cap *= 2;
  const next = new Uint16Array(cap);
  next.set(m.stack.subarray(0, m.size));
  m.buffer = { data: next, top: m.size };
  m.stack = next;
  m.appended = true;
  m.private = true;
}

/** Pulls one unit from the stack, drawing a clean unit (or throwing) when it is empty. */
function pullUnit(m: RansState): number {
  if (m.size > 0) return m.stack[--m.size]!;
  if (m.onEmpty === 'throw') throw new ExhaustedMessageError();
  return cleanUnit(m.seed, m.cleanUnits++);
}

function checkPrecision(precision: number): void {
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_PRECISION) {
    throw new RangeError(`precision must be an integer in [1, ${MAX_PRECISION}], got ${precision}`);
  }
}

/**
 * Pushes the symbol occupying `[start, start + freq)` out of `2^precision` onto `lane`. Costs `precision −
 * log2(freq)` bits. The caller guarantees `freq ≥ 1` and `start + freq ≤ 2^precision` (codecs do).
 */
export function push(m: Message, lane: number, start: number, freq: number, precision: number): Message {
  return update(m, (s) => pushState(s, lane, start, freq, precision));
}

/** {@link push} on a working state. */
export function pushState(m: RansState, lane: number, start: number, freq: number, precision: number): void {
  let x = m.heads[lane]!;
  if (!(x >= HEAD_LOWER)) throw new RangeError(`lane ${lane} is closed or out of range; open it with openLane first`);
  const xmax = freq * POW2[48 - precision]!;
  if (x >= xmax) {
    reserve(m, 2);
    do {
      m.stack[m.size++] = x & 0xffff;
      x = Math.floor(x * INV_UNIT);
    } while (x >= xmax);
  }
  // ⌊x / freq⌋ as a double can come out one too high (never low); the remainder check corrects it exactly.
  let q = Math.floor(x / freq);
  let r = x - q * freq;
  if (r < 0) {
    q -= 1;
    r += freq;
  }
  m.heads[lane] = q * POW2[precision]! + r + start;
}

/** The slot (`x mod 2^precision`) a pop at this precision will read from `lane`; pass it to your symbol lookup. */
export function peek(m: Message | RansState, lane: number, precision: number): number {
  const x = m.heads[lane]!;
  return x - Math.floor(x * INV_POW2[precision]!) * POW2[precision]!;
}

/** Completes a pop whose slot mapped to the symbol `[start, start + freq)`. */
export function popCommit(m: Message, lane: number, start: number, freq: number, precision: number): Message {
  return update(m, (s) => popCommitState(s, lane, start, freq, precision));
}

/** {@link popCommit} on a working state. */
export function popCommitState(m: RansState, lane: number, start: number, freq: number, precision: number): void {
  const x0 = m.heads[lane]!;
  if (!(x0 >= HEAD_LOWER)) throw new RangeError(`lane ${lane} is closed or out of range; open it with openLane first`);
  const hi = Math.floor(x0 * INV_POW2[precision]!);
  let x = freq * hi + (x0 - hi * POW2[precision]!) - start;
  while (x < HEAD_LOWER) x = x * UNIT + pullUnit(m);
  m.heads[lane] = x;
}

/** Pushes `value` (0 ≤ value < 2^bits) uniformly: `bits` bits. */
export function pushUniform(m: Message, lane: number, value: number, bits: number): Message {
  return push(m, lane, value, 1, bits);
}

/** Pops a uniform `bits`-bit value. */
export function popUniform(m: Message, lane: number, bits: number): [Message, number] {
  const v = peek(m, lane, bits);
  return [popCommit(m, lane, v, 1, bits), v];
}

/** Opens a closed lane by pulling 32 bits from the stack (clean bits if it is empty): head = 2^32 + those bits. */
export function openLane(m: Message, lane: number): Message {
  return update(m, (s) => openLaneState(s, lane));
}

/** {@link openLane} on a working state. */
export function openLaneState(m: RansState, lane: number): void {
  if (m.heads[lane] !== 0) throw new RangeError(`lane ${lane} is already open`);
  const hi = pullUnit(m);
  const lo = pullUnit(m);
  m.heads[lane] = HEAD_LOWER + hi * UNIT + lo;
}

/**
 * Closes a lane, the exact inverse of {@link openLane}: its head must be in [2^32, 2^33) and its low 32 bits go
 * back on the stack. A head outside that range means the message does not match the operations being undone.
 */
export function closeLane(m: Message, lane: number): Message {
  return update(m, (s) => closeLaneState(s, lane));
}

/** {@link closeLane} on a working state. */
export function closeLaneState(m: RansState, lane: number): void {
  const x = m.heads[lane]!;
  if (!(x >= HEAD_LOWER && x < 2 * HEAD_LOWER)) {
    throw new CorruptMessageError(`lane ${lane} cannot be closed: its head is not where opening left it (corrupt input or wrong model)`);
  }
  const v = x - HEAD_LOWER;
  reserve(m, 2);
  m.stack[m.size++] = v & 0xffff;
  m.stack[m.size++] = Math.floor(v * INV_UNIT);
  m.heads[lane] = 0;
}

/**
 * Information content of the message in bits: Σ over open heads of log2(x / 2^32) plus 16 per stack unit.
 * Pushing a symbol of probability P adds about −log2 P; this is what {@link flatten} costs, up to 5 + 32 bits
 * per open lane.
 */
export function messageBits(m: Message | RansState): number {
  let bits = m.size * UNIT_BITS;
  for (let i = 0; i < m.lanes; i++) {
    const x = m.heads[i]!;
    if (x !== 0) bits += Math.log2(x) - 32;
  }
  return bits;
}

// ---------------------------------------------------------------------------------------------------------------
// Flatten / unflatten

class BitWriter {
  bytes: Uint8Array;
  bitPos = 0;
  constructor(capacityBytes: number) {
    this.bytes = new Uint8Array(capacityBytes);
  }
  /** Writes the low `n` bits (n ≤ 24) of v, most significant first. */
  write(v: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      if ((v >>> i) & 1) this.bytes[this.bitPos >>> 3]! |= 0x80 >>> (this.bitPos & 7);
      this.bitPos++;
    }
  }
}

class BitReader {
  bitPos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly endBit: number,
  ) {}
  read(n: number): number {
    if (this.bitPos + n > this.endBit) throw new CorruptMessageError('rANS message bytes end inside a head');
    let v = 0;
    for (let i = 0; i < n; i++) {
      v = (v << 1) | ((this.bytes[this.bitPos >>> 3]! >>> (7 - (this.bitPos & 7))) & 1);
      this.bitPos++;
    }
    return v >>> 0;
  }
}

function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Reads an unsigned LEB128 varint of at most 7 bytes (< 2^49); throws on overrun or overlong input. */
export function readVarint(bytes: Uint8Array, pos: number, what: string): [value: number, next: number] {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    if (pos >= bytes.length) throw new CorruptMessageError(`unexpected end of data while reading ${what}`);
    const b = bytes[pos++]!;
    v += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [v, pos];
    scale *= 128;
  }
  throw new CorruptMessageError(`${what} is not a valid varint`);
}

/** Appends an unsigned LEB128 varint to `out`. */
export function pushVarint(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** 49) throw new RangeError(`varint out of range: ${v}`);
  writeVarint(out, v);
}

/**
 * Serialises a message: varint lanes, varint stack size, the heads bit-packed (5-bit tag t per lane: 0 = closed,
 * else the head has 32 + t bits and its bits below the leading one follow), padded to a byte, then the stack
 * units bottom first, 2 bytes each, big-endian. Clean-bit bookkeeping is not part of the bytes.
 */
export function flatten(m: Message): Uint8Array {
  const pre: number[] = [];
  writeVarint(pre, m.lanes);
  writeVarint(pre, m.size);
  const bw = new BitWriter(Math.ceil((m.lanes * 53) / 8) + 1);
  for (let i = 0; i < m.lanes; i++) {
    const x = m.heads[i]!;
    if (x === 0) {
      bw.write(0, 5);
      continue;
    }
    if (!(x >= HEAD_LOWER && x < HEAD_UPPER)) throw new CorruptMessageError(`head of lane ${i} is out of range`);
    const bitlen = Math.floor(Math.log2(x)) + 1;
    // log2 may round near powers of two; settle the exact bit length.
    const len = x >= POW2[bitlen]! ? bitlen + 1 : x < POW2[bitlen - 1]! ? bitlen - 1 : bitlen;
    bw.write(len - 32, 5);
    const rest = x - POW2[len - 1]!; // len − 1 bits, at most 47
    const restBits = len - 1;
    const hi = Math.floor(rest / 2 ** 24);
    bw.write(hi, restBits - 24);
    bw.write(rest - hi * 2 ** 24, 24);
  }
  const headBytes = Math.ceil(bw.bitPos / 8);
  const out = new Uint8Array(pre.length + headBytes + 2 * m.size);
  out.set(pre, 0);
  out.set(bw.bytes.subarray(0, headBytes), pre.length);
  let o = pre.length + headBytes;
  const stack = m.buffer.data;
  for (let i = 0; i < m.size; i++) {
    const u = stack[i]!;
    out[o++] = u >>> 8;
    out[o++] = u & 0xff;
  }
  return out;
}

/**
 * Parses bytes written by {@link flatten}. Every field is range-checked and the length must match exactly, so
 * truncated or padded input throws {@link CorruptMessageError} instead of decoding garbage.
 */
export function unflatten(bytes: Uint8Array, options: Omit<CreateMessageOptions, 'closed' | 'capacity'> = {}): Message {
  let pos = 0;
  const [lanes, posL] = readVarint(bytes, pos, 'lane count');
  const [size, posS] = readVarint(bytes, posL, 'stack size');
  pos = posS;
  if (lanes < 1 || lanes > 1 << 24) throw new CorruptMessageError(`lane count ${lanes} is out of range`);
  if (size > bytes.length || pos + Math.ceil((5 * lanes) / 8) + 2 * size > bytes.length) {
    throw new CorruptMessageError(`${lanes} lanes and ${size} stack units do not fit in ${bytes.length} bytes`);
  }
  const m = openState(createMessage(lanes, { ...options, closed: true, capacity: size + 64 }));
  const br = new BitReader(bytes, 8 * (bytes.length - 2 * size));
  br.bitPos = 8 * pos;
  for (let i = 0; i < lanes; i++) {
    const t = br.read(5);
    if (t === 0) continue;
    if (t > 16) throw new CorruptMessageError(`head tag ${t} of lane ${i} is out of range`);
    const len = 32 + t;
    const restBits = len - 1;
    const hi = br.read(restBits - 24);
    const lo = br.read(24);
    m.heads[i] = POW2[len - 1]! + hi * 2 ** 24 + lo;
  }
  const stackStart = Math.ceil(br.bitPos / 8);
  if (stackStart + 2 * size !== bytes.length) {
    throw new CorruptMessageError(`rANS message length mismatch: expected ${stackStart + 2 * size} bytes, got ${bytes.length}`);
  }
  let o = stackStart;
  for (let i = 0; i < size; i++) {
    m.stack[i] = (bytes[o]! << 8) | bytes[o + 1]!;
    o += 2;
  }
  m.size = size;
  m.buffer.top = size;
  return closeState(m);
}

// ---------------------------------------------------------------------------------------------------------------
// Frequency tables and bulk coding (the fast path)

/** A categorical distribution quantised to integer frequencies summing to `2^precision`. */
export interface FrequencyTable {
  readonly precision: number;
  /** freqs[s] ≥ 1 for every codable symbol (0 means the symbol cannot be coded). */
  readonly freqs: Float64Array;
  /** starts[s] = Σ_{t<s} freqs[t]; has one extra final entry equal to 2^precision. */
  readonly starts: Float64Array;
  /** 1 / freqs[s] (0 for uncodable symbols): the encoder multiplies instead of dividing, then corrects exactly. */
  readonly reciprocals: Float64Array;
  /** freqs[s] · 2^(48 − precision): push renormalises while the head is at or above this. */
  readonly limits: Float64Array;
  /** slot → symbol lookup of length 2^precision when precision ≤ 20; otherwise decode uses binary search. */
  readonly slotToSymbol: Uint32Array | Uint16Array | Uint8Array | null;
}

/** Builds a {@link FrequencyTable}; the frequencies must be non-negative integers summing to exactly 2^precision. */
export function frequencyTable(freqs: ArrayLike<number>, precision: number): FrequencyTable {
  checkPrecision(precision);
  const n = freqs.length;
  if (n < 1) throw new RangeError('frequency table needs at least one symbol');
  const f = new Float64Array(n);
  const starts = new Float64Array(n + 1);
  const reciprocals = new Float64Array(n);
  const limits = new Float64Array(n);
  let total = 0;
  for (let s = 0; s < n; s++) {
    const v = freqs[s]!;
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`frequency of symbol ${s} must be a non-negative integer, got ${v}`);
    f[s] = v;
    starts[s] = total;
    reciprocals[s] = v > 0 ? 1 / v : 0;
    limits[s] = v * POW2[48 - precision]!;
    total += v;
  }
  starts[n] = total;
  if (total !== POW2[precision]) {
    throw new RangeError(`frequencies must sum to 2^${precision} = ${POW2[precision]}, got ${total}`);
  }
  let slotToSymbol: FrequencyTable['slotToSymbol'] = null;
  if (precision <= 20) {
    slotToSymbol = n <= 256 ? new Uint8Array(total) : n <= 65536 ? new Uint16Array(total) : new Uint32Array(total);
    for (let s = 0; s < n; s++) slotToSymbol.fill(s, starts[s]!, starts[s + 1]!);
  }
  return { precision, freqs: f, starts, reciprocals, limits, slotToSymbol };
}

/** The symbol whose interval contains `slot`. */
export function lookupSymbol(table: FrequencyTable, slot: number): number {
  if (table.slotToSymbol !== null) return table.slotToSymbol[slot]!;
  const starts = table.starts;
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= slot) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function checkOpen(m: Message | RansState): void {
  for (let i = 0; i < m.lanes; i++) {
    if (!(m.heads[i]! >= HEAD_LOWER)) throw new RangeError(`lane ${i} is closed; open it with openLane first`);
  }
}

function checkSymbols(symbols: ArrayLike<number>, table: FrequencyTable): void {
  const freqs = table.freqs;
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (!(freqs[s]! > 0)) throw new RangeError(`symbol ${s} at index ${i} cannot be coded: it has no frequency in the table`);
  }
}

/**
 * The 4-lane push loop, kept in its own small function so the JIT optimises it in isolation. At precision ≤ 16 one
 * push emits at most one unit (after one shift x < 2^32 ≤ limit), so `if` suffices. Returns the new stack size.
 */
function push4(heads: Float64Array, stack: Uint16Array, size: number, symbols: ArrayLike<number>, table: FrequencyTable, n: number): number {
  const M = POW2[table.precision]!;
  const F = table.freqs;
  const S = table.starts;
  const R = table.reciprocals;
  const X = table.limits;
  let i = 0;
  let x0 = heads[0]!;
  let x1 = heads[1]!;
  let x2 = heads[2]!;
  let x3 = heads[3]!;
  for (; i + 3 < n; i += 4) {
    let s = symbols[i]!;
    let f = F[s]!;
    if (x0 >= X[s]!) {
      stack[size++] = x0 & 0xffff;
      x0 = Math.floor(x0 * INV_UNIT);
    }
    let q = Math.floor(x0 * R[s]!);
    let r = x0 - q * f;
    if (r < 0) { q -= 1; r += f; } else if (r >= f) { q += 1; r -= f; } // prettier-ignore
    x0 = q * M + r + S[s]!;
    s = symbols[i + 1]!;
    f = F[s]!;
    if (x1 >= X[s]!) {
      stack[size++] = x1 & 0xffff;
      x1 = Math.floor(x1 * INV_UNIT);
    }
    q = Math.floor(x1 * R[s]!);
    r = x1 - q * f;
    if (r < 0) { q -= 1; r += f; } else if (r >= f) { q += 1; r -= f; } // prettier-ignore
    x1 = q * M + r + S[s]!;
    s = symbols[i + 2]!;
    f = F[s]!;
    if (x2 >= X[s]!) {
      stack[size++] = x2 & 0xffff;
      x2 = Math.floor(x2 * INV_UNIT);
    }
    q = Math.floor(x2 * R[s]!);
    r = x2 - q * f;
    if (r < 0) { q -= 1; r += f; } else if (r >= f) { q += 1; r -= f; } // prettier-ignore
    x2 = q * M + r + S[s]!;
    s = symbols[i + 3]!;
    f = F[s]!;
    if (x3 >= X[s]!) {
      stack[size++] = x3 & 0xffff;
      x3 = Math.floor(x3 * INV_UNIT);
    }
    q = Math.floor(x3 * R[s]!);
    r = x3 - q * f;
    if (r < 0) { q -= 1; r += f; } else if (r >= f) { q += 1; r -= f; } // prettier-ignore
    x3 = q * M + r + S[s]!;
  }
  heads[0] = x0;
  heads[1] = x1;
  heads[2] = x2;
  heads[3] = x3;

  return size;
}

/**
 * Pushes `symbols[i]` for i = 0..n−1 under one table, symbol i on lane `i mod lanes` — the inner loop of a
 * repeated categorical codec: no allocation or division per symbol (a reciprocal multiply plus an exact
 * remainder correction), and with 4 lanes the heads stay in registers. Throws (before coding anything) on a
 * symbol the table cannot code.
 */
export function pushSymbols(msg: Message, symbols: ArrayLike<number>, table: FrequencyTable): Message {
  return update(msg, (m) => pushSymbolsState(m, symbols, table));
}

function pushSymbolsState(m: RansState, symbols: ArrayLike<number>, table: FrequencyTable): void {
  const n = symbols.length;
  checkOpen(m);
  checkSymbols(symbols, table);
  const p = table.precision;
  reserve(m, n * (p > 16 ? 2 : 1));
  const M = POW2[p]!;
  const F = table.freqs;
  const S = table.starts;
  const R = table.reciprocals;
  const X = table.limits;
  const heads = m.heads;
  const stack = m.stack;
  const lanes = m.lanes;
  let size = m.size;
  let i = 0;
  if (lanes === 4 && p <= 16 && n >= 4) {
    size = push4(heads, stack, size, symbols, table, n);
    i = n - (n % 4);
  }
  let lane = i % lanes;
  for (; i < n; i++) {
    const s = symbols[i]!;
    const f = F[s]!;
    let x = heads[lane]!;
    const xmax = X[s]!;
    while (x >= xmax) {
      stack[size++] = x & 0xffff;
      x = Math.floor(x * INV_UNIT);
    }
    // x · (1/f) is within one of x / f (x < 2^48, so the error is < 2^−4); the remainder fixes it exactly.
    let q = Math.floor(x * R[s]!);
    let r = x - q * f;
    if (r < 0) {
      q -= 1;
      r += f;
    } else if (r >= f) {
      q += 1;
      r -= f;
    }
    heads[lane] = q * M + r + S[s]!;
    if (++lane === lanes) lane = 0;
  }
  m.size = size;
}

/**
 * The 4-lane pop loop (own function for the JIT). At precision ≤ 16 a pop pulls at most one unit (⌊x/M⌋ ≥ 2^16,
 * so x ≥ 2^16 after it), so while ≥ 4 units remain no emptiness check is needed; returns the index still to pop
 * (the general path finishes from there).
 */
function pop4<T extends { [i: number]: number; length: number }>(m: RansState, start: number, table: FrequencyTable, out: T): number {
  const heads = m.heads;
  const stack = m.stack;
  const lut = table.slotToSymbol!;
  const F = table.freqs;
  const S = table.starts;
  const M = POW2[table.precision]!;
  const invM = INV_POW2[table.precision]!;
  let i = start;
  let x0 = heads[0]!;
  let x1 = heads[1]!;
  let x2 = heads[2]!;
  let x3 = heads[3]!;
  let size = m.size;
  const mask = M - 1;
  for (; i >= 3 && size >= 4; i -= 4) {
    let slot = x3 & mask;
    let s = lut[slot]!;
    out[i] = s;
    x3 = F[s]! * ((x3 - slot) * invM) + (slot - S[s]!);
    if (x3 < HEAD_LOWER) x3 = x3 * UNIT + stack[--size]!;
    slot = x2 & mask;
    s = lut[slot]!;
    out[i - 1] = s;
    x2 = F[s]! * ((x2 - slot) * invM) + (slot - S[s]!);
    if (x2 < HEAD_LOWER) x2 = x2 * UNIT + stack[--size]!;
    slot = x1 & mask;
    s = lut[slot]!;
    out[i - 2] = s;
    x1 = F[s]! * ((x1 - slot) * invM) + (slot - S[s]!);
    if (x1 < HEAD_LOWER) x1 = x1 * UNIT + stack[--size]!;
    slot = x0 & mask;
    s = lut[slot]!;
    out[i - 3] = s;
    x0 = F[s]! * ((x0 - slot) * invM) + (slot - S[s]!);
    if (x0 < HEAD_LOWER) x0 = x0 * UNIT + stack[--size]!;
  }
  heads[0] = x0;
  heads[1] = x1;
  heads[2] = x2;
  heads[3] = x3;
  m.size = size;
  return i;
}

/**
 * Pops `n` symbols pushed by {@link pushSymbols} (with the same n, table and lane count), writing them to
 * `out[0..n)` in their original order.
 */
export function popSymbols<T extends { [i: number]: number; length: number }>(msg: Message, n: number, table: FrequencyTable, out: T): [Message, T] {
  return [update(msg, (m) => popSymbolsState(m, n, table, out)), out];
}

function popSymbolsState<T extends { [i: number]: number; length: number }>(m: RansState, n: number, table: FrequencyTable, out: T): void {
  if (out.length < n) throw new RangeError(`output has room for ${out.length} symbols, need ${n}`);
  checkOpen(m);
  const lanes = m.lanes;
  const p = table.precision;
  const M = POW2[p]!;
  const invM = INV_POW2[p]!;
  const F = table.freqs;
  const S = table.starts;
  const heads = m.heads;
  const lut = table.slotToSymbol;
  const stack = m.stack;
  let i = n - 1;
  const fast = lanes === 4 && p <= 16 && lut !== null && n % 4 === 0;
  if (!fast) {
    let lane = (n - 1) % lanes;
    for (; i >= 0; i--) {
      const x0 = heads[lane]!;
      const hi = Math.floor(x0 * invM);
      const slot = x0 - hi * M;
      const s = lut !== null ? lut[slot]! : lookupSymbol(table, slot);
      out[i] = s;
      let x = F[s]! * hi + (slot - S[s]!);
      while (x < HEAD_LOWER) x = x * UNIT + (m.size > 0 ? stack[--m.size]! : pullUnit(m));
      heads[lane] = x;
      if (--lane < 0) lane = lanes - 1;
    }
    return;
  }
  i = pop4(m, i, table, out);
  let lane = 3;
  for (; i >= 0; i--) {
    const xa = heads[lane]!;
    const hi = Math.floor(xa * invM);
    const slot = xa - hi * M;
    const s = lut[slot]!;
    out[i] = s;
    let x = F[s]! * hi + (slot - S[s]!);
    while (x < HEAD_LOWER) x = x * UNIT + (m.size > 0 ? stack[--m.size]! : pullUnit(m));
    heads[lane] = x;
    if (--lane < 0) lane = 3;
  }
}

/**
 * Batched binary symbols with per-element splits — the inner loops of `bernoulliBatch`, written out so the JIT sees
 * one flat loop instead of a closure and a `push` call per pixel. Element `i = l · perLane + d` sits on lane
 * `laneOffset + l`; symbol 0 is `[0, split[i])` and symbol 1 is `[split[i], 2^precision)` (0 < split < 2^precision).
 * Positions run d outer, lanes inner (pop: the exact reverse). The arithmetic is {@link push} / {@link popCommit}'s,
 * operation for operation, so the messages are bit-identical to coding the elements one by one.
 */
export function pushBinaryLanes(
  m: RansState,
  symbols: ArrayLike<number>,
  split: Float64Array,
  lanes: number,
  perLane: number,
  precision: number,
  laneOffset: number,
): void {
  checkPrecision(precision);
  const M = POW2[precision]!;
  const scale = POW2[48 - precision]!;
  for (let l = 0; l < lanes; l++) {
    if (!(m.heads[laneOffset + l]! >= HEAD_LOWER)) throw new RangeError(`lane ${laneOffset + l} is closed or out of range; open it with openLane first`);
  }
  // One push emits at most two units (x < 2^48 and freq · 2^(48−p) ≥ 2^16).
  reserve(m, 2 * lanes * perLane);
  const heads = m.heads;
  const stack = m.stack;
  let size = m.size;
  for (let d = 0; d < perLane; d++) {
    for (let l = 0; l < lanes; l++) {
      const i = l * perLane + d;
      const s = symbols[i]!;
      const c = split[i]!;
      let start: number;
      let freq: number;
      if (s === 0) {
        start = 0;
        freq = c;
      } else if (s === 1) {
        start = c;
        freq = M - c;
      } else {
        m.size = size;
        throw new RangeError(`symbol ${s} at index ${i} is outside 0..1`);
      }
      const lane = laneOffset + l;
      let x = heads[lane]!;
      const xmax = freq * scale;
      while (x >= xmax) {
        stack[size++] = x & 0xffff;
        x = Math.floor(x * INV_UNIT);
      }
      let q = Math.floor(x / freq);
      let r = x - q * freq;
      if (r < 0) {
        q -= 1;
        r += freq;
      }
      heads[lane] = q * M + r + start;
    }
  }
  m.size = size;
}

/** Pops what {@link pushBinaryLanes} pushed (same layout and splits) into `out`. */
export function popBinaryLanes(
  m: RansState,
  out: Uint8Array,
  split: Float64Array,
  lanes: number,
  perLane: number,
  precision: number,
  laneOffset: number,
): void {
  checkPrecision(precision);
  const M = POW2[precision]!;
  const invM = INV_POW2[precision]!;
  for (let l = 0; l < lanes; l++) {
    if (!(m.heads[laneOffset + l]! >= HEAD_LOWER)) throw new RangeError(`lane ${laneOffset + l} is closed or out of range; open it with openLane first`);
  }
  const heads = m.heads;
  for (let d = perLane - 1; d >= 0; d--) {
    for (let l = lanes - 1; l >= 0; l--) {
      const i = l * perLane + d;
      const lane = laneOffset + l;
      const x0 = heads[lane]!;
      const hi = Math.floor(x0 * invM);
      const slot = x0 - hi * M;
      const c = split[i]!;
      let x: number;
      if (slot >= c) {
        out[i] = 1;
        x = (M - c) * hi + slot - c;
      } else {
        out[i] = 0;
        x = c * hi + slot;
      }
      while (x < HEAD_LOWER) x = x * UNIT + pullUnit(m);
      heads[lane] = x;
    }
  }
}
