/** Service templates are bundled as text (`with { type: 'text' }`), so compiled binaries carry them. */
declare module '*.plist' {
  const text: string;
  export default text;
}
declare module '*.service' {
  const text: string;
  export default text;
}
