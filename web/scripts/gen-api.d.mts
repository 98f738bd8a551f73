/** Types of scripts/gen-api.mjs for the tests that reuse it. */
export const SNAPSHOT: string;
export const SCHEMA: string;
export function normalise(spec: Record<string, unknown>): Record<string, unknown>;
export function generate(spec: Record<string, unknown>): Promise<string>;
