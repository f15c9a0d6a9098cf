export async function serve(_args: string[]): Promise<number | undefined> { console.error("serve: not yet implemented"); return 1; }
