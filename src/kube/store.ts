/**
 * The informer's cache: objects by key ("namespace/name"), by namespace, and by named indexes
 * (owner UID, a label's value, ...). Objects are deep-frozen on the way in, so a caller cannot
 * corrupt the cache by mutating what `get` or `list` returned; the types say so too
 * (DeepReadonly). Copy (structuredClone) before building a write from a cached object.
 */
import { deepFreeze, objectKey, type DeepReadonly, type KubeObject } from "./objects.ts";

/** Maps an object to the index values it is filed under (none, one or several). */
export type IndexFunc<T> = (obj: DeepReadonly<T>) => readonly string[];

/** What a reader of the cache may do. */
export interface ReadonlyStore<T extends KubeObject> {
  /** The object at `key` ("namespace/name", or "name" when cluster-scoped). */
  get(key: string): DeepReadonly<T> | undefined;
  /** Every object, or those of one namespace. */
  list(namespace?: string): readonly DeepReadonly<T>[];
  /** The objects whose index `indexName` maps to `value`. Throws on an unknown index name. */
  byIndex(indexName: string, value: string): readonly DeepReadonly<T>[];
  /** Every key. */
  keys(): readonly string[];
  readonly size: number;
}

/** Files objects by their controller owner's UID (ownerReferences with controller: true). */
export function indexByControllerUid<T extends KubeObject>(obj: DeepReadonly<T>): readonly string[] {
  const owners = obj.metadata?.ownerReferences ?? [];
  return owners.filter((ref) => ref.controller === true).map((ref) => ref.uid);
}

/** Files objects by the value of one label (objects without it are not indexed). */
export function indexByLabel<T extends KubeObject>(label: string): IndexFunc<T> {
  return (obj) => {
    const value = obj.metadata?.labels?.[label];
    return value === undefined ? [] : [value];
  };
}

export class Store<T extends KubeObject> implements ReadonlyStore<T> {
  private readonly objects = new Map<string, DeepReadonly<T>>();
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly indexers: ReadonlyMap<string, IndexFunc<T>>;
  /** index name -> index value -> keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    this.indexers = new Map(Object.entries(indexers));
    for (const name of this.indexers.keys()) this.indices.set(name, new Map());
  }

  get size(): number {
    return this.objects.size;
  }

  get(key: string): DeepReadonly<T> | undefined {
    return this.objects.get(key);
  }

  list(namespace?: string): readonly DeepReadonly<T>[] {
    if (namespace === undefined) return [...this.objects.values()];
    return this.lookup(this.byNamespace.get(namespace));
  }

  byIndex(indexName: string, value: string): readonly DeepReadonly<T>[] {
    const index = this.indices.get(indexName);
    if (index === undefined) throw new Error(`unknown index ${JSON.stringify(indexName)}`);
    return this.lookup(index.get(value));
  }

  keys(): readonly string[] {
    return [...this.objects.keys()];
  }

  /** Stores `obj` (frozen) under its key and returns the previous object, if any. */
  put(obj: T | DeepReadonly<T>): {
    readonly key: string;
    readonly old: DeepReadonly<T> | undefined;
    readonly stored: DeepReadonly<T>;
  } {
    const stored = deepFreeze(obj) as DeepReadonly<T>;
    const key = objectKey(stored);
    const old = this.objects.get(key);
    if (old !== undefined) this.unindex(key, old);
    this.objects.set(key, stored);
    this.index(key, stored);
    return { key, old, stored };
  }

  /** Removes the object at `key` and returns it, if there was one. */
  delete(key: string): DeepReadonly<T> | undefined {
    const old = this.objects.get(key);
    if (old === undefined) return undefined;
    this.unindex(key, old);
    this.objects.delete(key);
    return old;
  }

  private lookup(keys: ReadonlySet<string> | undefined): readonly DeepReadonly<T>[] {
    if (keys === undefined) return [];
    const result: DeepReadonly<T>[] = [];
    for (const key of keys) {
      const obj = this.objects.get(key);
      if (obj !== undefined) result.push(obj);
    }
    return result;
  }

  private index(key: string, obj: DeepReadonly<T>): void {
    this.file(key, obj, addTo);
  }

  private unindex(key: string, obj: DeepReadonly<T>): void {
    this.file(key, obj, removeFrom);
  }

  /** Adds `key` to (or removes it from) every index entry `obj` belongs to. */
  private file(
    key: string,
    obj: DeepReadonly<T>,
    op: (map: Map<string, Set<string>>, value: string, key: string) => void,
  ): void {
    op(this.byNamespace, obj.metadata?.namespace ?? "", key);
    for (const [name, indexFunc] of this.indexers) {
      const index = this.indices.get(name);
      if (index === undefined) continue;
      for (const value of indexFunc(obj)) op(index, value, key);
    }
  }
}

function addTo(map: Map<string, Set<string>>, value: string, key: string): void {
  let keys = map.get(value);
  if (keys === undefined) {
    keys = new Set();
    map.set(value, keys);
  }
  keys.add(key);
}

function removeFrom(map: Map<string, Set<string>>, value: string, key: string): void {
  const keys = map.get(value);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) map.delete(value);
}

/** Several namespaces' caches seen as one. */
export function unionStore<T extends KubeObject>(stores: readonly ReadonlyStore<T>[]): ReadonlyStore<T> {
  if (stores.length === 1 && stores[0] !== undefined) return stores[0];
  return {
    get: (key) => {
      for (const s of stores) {
        const obj = s.get(key);
        if (obj !== undefined) return obj;
      }
      return undefined;
    },
    list: (namespace) => stores.flatMap((s) => s.list(namespace)),
    byIndex: (index, value) => stores.flatMap((s) => s.byIndex(index, value)),
    keys: () => stores.flatMap((s) => s.keys()),
    get size() {
      return stores.reduce((n, s) => n + s.size, 0);
    },
  };
}
