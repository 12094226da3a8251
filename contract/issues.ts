/** How validation problems are shown to people: one "field: message" line per problem. Pure. */
import type * as z from 'zod';

/** A field path as users write it: phases[0].parallel[1].budgetSeconds */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

type Issue = z.core.$ZodIssue;

/**
 * A union that matched no option reports the option that came closest (fewest issues). A record
 * key its key schema refused reports why (zod's own message is only "Invalid key in record", or
 * the record's `error`, which says nothing about the key).
 */
function flattenIssue(issue: Issue): Issue[] {
  if (issue.code === 'invalid_key' && issue.issues.length > 0) {
    return issue.issues.flatMap((inner) => flattenIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
  }
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const closest = issue.errors.reduce((best, option) => (option.length < best.length ? option : best));
  return closest.flatMap((inner) => flattenIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}

/**
 * Each zod issue as "field: message", one per line. `label` may name what a path points into
 * (e.g. the phase at phases[2]); it is added after the field unless the message says it already.
 */
export function formatIssues(error: z.ZodError, label?: (path: readonly PropertyKey[]) => string | undefined): string {
  return error.issues
    .flatMap(flattenIssue)
    .map((issue) => {
      const name = label?.(issue.path);
      const named = name && !issue.message.includes(name) ? ` (${name})` : '';
      return `${formatPath(issue.path) || '(root)'}${named}: ${issue.message}`;
    })
    .join('\n');
}
