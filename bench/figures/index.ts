import type { Figure } from '../run.js'
import { G9 } from './claim-scale.js'
import { G3, G4 } from './drain.js'
import { G1, G2 } from './enqueue.js'
import { G8 } from './fairness.js'
import { G12 } from './http.js'
import { G5, G6, G7 } from './latency.js'
import { G14 } from './notify.js'
import { G13 } from './relay.js'
import { G10 } from './rls.js'
import { G11 } from './sqlite.js'

/**
 * Every figure, in the order a full run measures them. A new figure is a file exporting a
 * `Figure` (its id, its sizes, its run) and one entry here; `--only`, `--set`, the table,
 * the JSON and the chart pick it up.
 */
export const FIGURES: readonly Figure[] = [G1, G2, G3, G4, G5, G6, G7, G8, G9, G10, G11, G12, G13, G14]
