// The part of node-gyp-build (which ships no types) that addon.ts uses.
declare module 'node-gyp-build' {
  /** Path of the addon for this platform in `dir`: build/Release, else prebuilds/<platform>-<arch>/; throws when none matches. */
  function path(dir: string): string;
  const nodeGypBuild: { path: typeof path };
  export default nodeGypBuild;
}
