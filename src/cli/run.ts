/** The process entry of the xenmig command: loads the command line (launch.ts) and runs it. */
import { loadCli } from './launch.js';

const { main } = await loadCli();
process.exitCode = await main(process.argv);
