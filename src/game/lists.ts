// Reading a list at an index the caller keeps in range. An index read is typed as possibly
// undefined; this narrows it, and a bug that reads outside the list fails at once instead of
// passing undefined on.

export function itemAt<T>(list: readonly T[], i: number): T {
  const item = list[i];
  if (item === undefined) throw new RangeError(`no item ${i} in a list of ${list.length}`);
  return item;
}
