// `npm run readme:directives`: rewrites README.md's directive reference from src/config/directive-table.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { withDirectiveReference } from '../../src/config/directive-reference.js';

const path = new URL('../../README.md', import.meta.url);
writeFileSync(path, withDirectiveReference(readFileSync(path, 'utf8')));
