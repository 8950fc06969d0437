/** The media type of a Content-Type value, lower-cased, without parameters (`Application/JSON; charset=x` -> `application/json`). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
