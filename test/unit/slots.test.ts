import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from '../../src/activities/slots';

/** A piece of work that runs until released, recording how many ran at once. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test('no more uploads run at once than the process has slots, and waiters go in arrival order', async () => {
  const slots = new Slots(2);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const gates = Array.from({ length: 5 }, gate);
  const uploads = gates.map((g, i) =>
    slots.use(async () => {
      started.push(i);
      most = Math.max(most, ++running);
      await g.opened;
      running--;
    }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1], 'two slots: two uploads at once');
  gates[1].open();
  await uploads[1];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1, 2], 'the first waiter gets the freed slot');
  for (const g of gates) g.open();
  await Promise.all(uploads);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(most, 2);
});

test('an upload cancelled while it waits leaves the queue, and a failed one frees its slot', async () => {
  const slots = new Slots(1);
  const first = gate();
  const holding = slots.use(() => first.opened);
  const cancel = new AbortController();
  const cancelled = slots.use(async () => assert.fail('a cancelled upload never runs'), cancel.signal);
  cancel.abort(new Error('stream cancelled'));
  await assert.rejects(cancelled, /stream cancelled/);
  first.open();
  await holding;
  await assert.rejects(
    slots.use(async () => {
      throw new Error('PUT failed');
    }),
    /PUT failed/,
  );
  assert.equal(await slots.use(async () => 'ran'), 'ran', 'the failed upload gave its slot back');
});

test('a live upload waiting gets the next slot before backlog uploads that waited longer', async () => {
  const slots = new Slots(1);
  const first = gate();
  const holding = slots.use(() => first.opened);
  const started: string[] = [];
  const waiting = [
    slots.use(async () => void started.push('backlog'), undefined, 'backlog'),
    slots.use(async () => void started.push('live'), undefined, 'live'),
  ];
  first.open();
  await Promise.all([holding, ...waiting]);
  assert.deepEqual(started, ['live', 'backlog']);
});
