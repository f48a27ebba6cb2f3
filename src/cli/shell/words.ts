/**
 * Splits a shell command line into words: blanks separate, '…' and "…" quote (no
 * expansion), a backslash escapes the next character outside single quotes.
 * @throws Error `unterminated quote` for an open quote.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      let end = i + 1;
      while (end < line.length && line[end] !== c) end += c === '"' && line[end] === '\\' ? 2 : 1;
      if (end >= line.length) end = -1;
      if (end < 0) throw new Error(`unterminated ${c === "'" ? 'single' : 'double'} quote`);
      let body = line.slice(i + 1, end);
      if (c === '"') body = body.replace(/\\(["\\$`])/g, '$1');
      cur += body;
      has = true;
      i = end;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) words.push(cur);
  return words;
}
