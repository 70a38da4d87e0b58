import type { AttributeProto, TensorProto } from './proto';

/** Typed access to a node's attributes with the defaults the ONNX spec gives. */
export class Attributes {
  private readonly byName = new Map<string, AttributeProto>();

  constructor(list: readonly AttributeProto[] = []) {
    for (const a of list) this.byName.set(a.name, a);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  int(name: string, fallback: number): number;
  int(name: string): number | undefined;
  int(name: string, fallback?: number): number | undefined {
    const a = this.byName.get(name);
    return a?.i !== undefined ? Number(a.i) : fallback;
  }

  float(name: string, fallback: number): number {
    return this.byName.get(name)?.f ?? fallback;
  }

  ints(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a?.ints ? a.ints.map(Number) : undefined;
  }

  floats(name: string): number[] | undefined {
    return this.byName.get(name)?.floats;
  }

  string(name: string, fallback: string): string {
    const s = this.byName.get(name)?.s;
    return s ? new TextDecoder().decode(s) : fallback;
  }

  tensor(name: string): TensorProto | undefined {
    return this.byName.get(name)?.t;
  }
}
