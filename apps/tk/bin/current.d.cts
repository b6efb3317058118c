export declare function bundleIsCurrent(manifestUrl: URL, rootUrl: URL): boolean;
export declare function currentBundle(
  manifestUrl: URL,
  rootUrl: URL,
):
  | {
      inputs: unknown[];
      guards?: unknown[];
      entry?: unknown;
      sha256?: unknown;
      sides?: unknown;
    }
  | undefined;
