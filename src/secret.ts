/**
 * A value that never prints: JSON (pino's logs included), util.inspect, console.log and template
 * strings all show `[redacted]`. Only `reveal()` gives it, to the code that sends it.
 */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret [redacted]';
  }
}
