import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRealCommand, splitShellWords } from '../../src/migrate/guard/command.js';
import { xlRune } from './harness.js';

/** What the guard gets as argv when sh runs xl's line, and the words after "--". */
function afterDashes(rune: string): string[] {
  const words = splitShellWords(rune);
  assert.equal(words[0], 'exec');
  return words.slice(words.indexOf('--') + 1);
}

const GUARD = 'xenmig guard --host-policy dest.txt --';

test('xl puts the host first: the guard adds ssh, and reads no flag when xl passes none', () => {
  const cmd = planRealCommand(afterDashes(xlRune(GUARD, 'desthost')));
  assert.deepEqual(cmd.argv, ['ssh', 'desthost', 'xl', 'migrate-receive']);
  assert.equal(cmd.sshPrefixed, true);
  assert.equal(cmd.host, 'desthost');
  assert.deepEqual(
    { ...cmd.receiver, words: undefined },
    { program: 'xl', tty: false, timestamps: false, verbosity: 0, foreground: false, debug: false, paused: false, checkpointed: undefined, words: undefined },
  );
});

test('-t, -e, -d and -p as xl writes them are each read, alone and together', () => {
  const cases: [Parameters<typeof xlRune>[2], Partial<Record<'tty' | 'foreground' | 'debug' | 'paused', boolean>>][] = [
    [{ tty: true }, { tty: true }],
    [{ e: true }, { foreground: true }],
    [{ d: true }, { debug: true }],
    [{ p: true }, { paused: true }],
    [{ tty: true, e: true, d: true, p: true }, { tty: true, foreground: true, debug: true, paused: true }],
  ];
  for (const [flags, want] of cases) {
    const rune = xlRune(GUARD, 'root@desthost', flags);
    const cmd = planRealCommand(afterDashes(rune));
    const r = cmd.receiver!;
    assert.deepEqual(
      { tty: r.tty, foreground: r.foreground, debug: r.debug, paused: r.paused },
      { tty: false, foreground: false, debug: false, paused: false, ...want },
      rune,
    );
    assert.deepEqual(cmd.argv.slice(0, 3), ['ssh', 'root@desthost', 'xl'], rune);
    assert.deepEqual(cmd.argv.slice(1), afterDashes(rune), 'the words xl built pass through unchanged');
  }
});

test("xl's global options before migrate-receive (-T, -vvv) do not hide the receiver", () => {
  const cmd = planRealCommand(['desthost', 'xl', '-t', '-T', '-vvv', 'migrate-receive', '-e']);
  assert.equal(cmd.sshPrefixed, true);
  assert.equal(cmd.receiver!.timestamps, true);
  assert.equal(cmd.receiver!.verbosity, 3);
  assert.equal(cmd.receiver!.foreground, true);
});

test('a transport given with its options runs as given; a local receiver too', () => {
  const viaSsh = planRealCommand(['ssh', '-p', '2222', 'desthost', 'xl', 'migrate-receive', '-p']);
  assert.deepEqual(viaSsh.argv, ['ssh', '-p', '2222', 'desthost', 'xl', 'migrate-receive', '-p']);
  assert.equal(viaSsh.sshPrefixed, false);
  assert.equal(viaSsh.host, 'desthost');
  assert.equal(viaSsh.receiver!.paused, true);
  const local = planRealCommand(['/usr/sbin/xl', 'migrate-receive']);
  assert.deepEqual(local.argv, ['/usr/sbin/xl', 'migrate-receive']);
  assert.equal(local.host, undefined);
  assert.equal(local.receiver!.program, 'xl');
});

test("xl remus lines (-r, --colo) mark a checkpointed stream", () => {
  const remus = planRealCommand(afterDashes(`exec ${GUARD} backup xl migrate-receive -r  -e`));
  assert.equal(remus.receiver!.checkpointed, 'remus');
  assert.equal(remus.receiver!.foreground, true);
  const colo = planRealCommand(['backup', 'xl', 'migrate-receive', '--colo', '--coloft-script', '/etc/xen/scripts/colo-proxy-setup', '-e']);
  assert.equal(colo.receiver!.checkpointed, 'colo');
  assert.equal(colo.receiver!.foreground, true);
});

test('one word with spaces is a shell line; words without a receiver run as given', () => {
  const shell = planRealCommand(['ssh desthost xl migrate-receive -d']);
  assert.deepEqual(shell.argv, ['sh', '-c', 'ssh desthost xl migrate-receive -d']);
  assert.equal(shell.host, 'desthost');
  assert.equal(shell.receiver!.debug, true);
  assert.deepEqual(planRealCommand(['cat']).argv, ['cat']);
  assert.deepEqual(planRealCommand(['xenmig', 'receive', '--stdio']).receiver!.program, 'xenmig');
  const script = planRealCommand(['node', '/opt/xenmig/bin/xenmig', 'receive', '--stdio']);
  assert.deepEqual(script.argv, ['node', '/opt/xenmig/bin/xenmig', 'receive', '--stdio']);
  assert.equal(script.sshPrefixed, false);
  assert.throws(() => planRealCommand([]), /no command after "--"/);
});

test('shell words: quotes and backslashes as sh reads them', () => {
  assert.deepEqual(splitShellWords(`exec a 'b c' "d \\"e\\" $f" g\\ h  `), ['exec', 'a', 'b c', 'd "e" $f', 'g h']);
  assert.throws(() => splitShellWords(`a 'b`), /unterminated single quote/);
});
