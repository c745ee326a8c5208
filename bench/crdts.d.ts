// Minimal types for the parts of the untyped `crdts` package the benchmark uses.
declare module 'crdts' {
  class CmRDTSet<T> extends Set<T> {
    constructor(
      iterable?: unknown[],
      options?: { compareFunc?: (a: unknown, b: unknown) => number },
    );
    add(value: T, tag?: unknown): this;
    remove(value: T, tag?: unknown): void;
    has(value: T): boolean;
    toArray(): T[];
    toJSON(): { values: { value: T; added: unknown[]; removed: unknown[] }[] };
  }
  export class LWWSet<T> extends CmRDTSet<T> {}
  export class ORSet<T> extends CmRDTSet<T> {}
}
