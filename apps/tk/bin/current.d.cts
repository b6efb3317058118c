export declare function bundleIsCurrent(manifestUrl: URL, rootUrl: URL): boolean;
