/** The part of jsfive's API (a pure-JS HDF5 reader; it ships no types) the Keras loader uses. */
declare module 'jsfive' {
  export class Group {
    readonly name: string;
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
    /** A member by relative path; throws (a string) when it does not exist. */
    get(path: string): Group | Dataset | null;
  }
  export class Dataset {
    readonly name: string;
    readonly shape: number[];
    /** numpy-style type string, e.g. '<f4'; compound and string types are objects or arrays. */
    readonly dtype: unknown;
    readonly value: ArrayLike<number | bigint>;
    readonly attrs: Record<string, unknown>;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
}
