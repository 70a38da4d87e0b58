/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line per tenth otherwise (CI logs,
 * pipes), never on stdout where results go.
 */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): {
  update: (done: number, total: number) => void;
  finish: () => void;
} {
  const tty = stream.isTTY === true;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total) {
      const fraction = total > 0 ? Math.min(done / total, 1) : 1;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(fraction * 100)}% (${done}/${total})`);
        drawn = true;
      } else {
        const tenth = Math.floor(fraction * 10);
        if (tenth > lastTenth) {
          lastTenth = tenth;
          stream.write(`${label}: ${done}/${total}\n`);
        }
      }
    },
    finish() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
