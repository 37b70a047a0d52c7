/** The process entry of the xenmig command: runs main() on this process's arguments. */
import { main } from './main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
