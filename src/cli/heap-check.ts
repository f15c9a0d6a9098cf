// Refuses a JS heap limit the machine cannot back: in a unikernel guest there is no swap, so a heap that outgrows the
// guest's memory ends in a kernel out-of-memory halt under load instead of a clear error at start.

/** The heap may take at most this share of the machine's memory (image/build.mjs checks 5/8 of Memory at build time). */
export const MAX_HEAP_SHARE_AT_START = 3 / 4;

const MiB = 1024 * 1024;

/** Why this heap limit does not fit the memory, as one sentence for the operator; undefined when it fits. */
export function heapProblem(heapLimitBytes: number, totalMemBytes: number, nodeOptions = ''): string | undefined {
  if (heapLimitBytes <= totalMemBytes * MAX_HEAP_SHARE_AT_START) return undefined;
  const heap = Math.round(heapLimitBytes / MiB);
  const mem = Math.round(totalMemBytes / MiB);
  const fit = Math.floor((totalMemBytes * 5) / 8 / MiB) - 48;
  const opts = nodeOptions.trim() ? `NODE_OPTIONS '${nodeOptions.trim()}'` : 'the node command line';
  return `the JS heap limit is ${heap} MiB (from ${opts}) but this machine has ${mem} MiB of memory: ` +
    `under load the heap would outgrow it. Lower --max-old-space-size to at most ${Math.max(fit, 16)} ` +
    `(in config.json Env.NODE_OPTIONS for an image) or give the machine more memory (image/DEPLOY.md, Memory)`;
}
