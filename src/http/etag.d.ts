/** The `etag` package (Express's own ETag function) has no bundled types. */
declare module 'etag' {
  function etag(entity: string | Buffer, options?: { weak?: boolean }): string;
  export = etag;
}
