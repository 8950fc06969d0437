export const STAMP_FILE: string;
export function isBuildInput(relPath: string): boolean;
export const APPS_BUILDER: string;
export function sourceStamp(root: string): { files: number; newestMtimeMs: number } | null;
export function freshCompiledEntry(root: string): string | null;
