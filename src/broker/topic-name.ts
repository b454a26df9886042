// Kafka's topic naming rule, checked by the API before any lookup and again by the metadata
// image at apply time: [a-zA-Z0-9._-], 1 to 249 characters, not '.' or '..'. The name is also
// a directory name (<topic>-<partition>), which is why the rule is this strict.

export const topicNameCharsMax = 249;
const topicNamePattern = /^[a-zA-Z0-9._-]+$/;

/** Returns null when the name is legal, else a reason fit for an error message. */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'topic name must be a non-empty string';
  if (name.length > topicNameCharsMax) {
    return `topic name is longer than ${topicNameCharsMax} characters`;
  }
  if (name === '.' || name === '..') return `topic name cannot be '${name}'`;
  if (!topicNamePattern.test(name)) return 'topic name may contain only [a-zA-Z0-9._-]';
  return null;
}
