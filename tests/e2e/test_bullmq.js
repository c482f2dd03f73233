#!/usr/bin/env node
// BullMQ (npm, pinned in tests/e2e/node/package.json, installed by `make e2e-deps`) end to end
// against the server at DOCKET_PORT: two Workers share 20 jobs (each runs exactly once, its
// result read back), a job with delay: 3000 runs once and not before its time, a repeatable job
// (repeat: { every: 1000, limit: 3 }) runs exactly 3 times, each not before its own time, and a
// job with attempts: 2 that fails once is retried after its 500 ms backoff. A QueueEvents
// (XREAD BLOCK on the events stream) sees each completion once. Runs are appended to runs.log
// (the cwd is the test's temp dir) from inside the processor.
// e2e-timeout: 60
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const JOBS = 20;
const QUEUE = 'e2e';

let bullmq;
try {
  bullmq = createRequire(path.join(__dirname, 'node', 'package.json'))('bullmq');
} catch (e) {
  console.log(`bullmq is not installed (run make e2e-deps): ${e.message.split('\n')[0]}`);
  process.exit(77);
}
const { Queue, Worker, QueueEvents } = bullmq;

const connection = {
  host: process.env.DOCKET_HOST || '127.0.0.1',
  port: Number(process.env.DOCKET_PORT || process.argv[2]),
  maxRetriesPerRequest: null,
};

const failures = [];
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures.push(what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// job id -> list of run entries from runs.log.
function runs() {
  const out = new Map();
  if (!fs.existsSync('runs.log')) return out;
  for (const line of fs.readFileSync('runs.log', 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line);
    if (!out.has(e.id)) out.set(e.id, []);
    out.get(e.id).push(e);
  }
  return out;
}

function runsNamed(name) {
  return [...runs().values()].flat().filter((e) => e.name === name);
}

async function waitUntil(ms, cond) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function processor(worker) {
  return async (job) => {
    const entry = {
      id: job.id, name: job.name, data: job.data, time: Date.now(), timestamp: job.timestamp,
      delay: job.opts.delay || 0, attemptsMade: job.attemptsMade, worker,
    };
    fs.appendFileSync('runs.log', JSON.stringify(entry) + '\n');
    if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error('first attempt fails');
    return { double: job.data.value * 2 };
  };
}

async function main() {
  const queue = new Queue(QUEUE, { connection });
  queue.setMaxListeners(4 * JOBS); // each waitUntilFinished listens for the queue's closing
  const events = new QueueEvents(QUEUE, { connection, lastEventId: '0-0' });
  const completed = new Map();
  events.on('completed', ({ jobId }) => completed.set(jobId, (completed.get(jobId) || 0) + 1));
  const errors = [];
  await queue.waitUntilReady();
  await events.waitUntilReady();

  const jobs = [];
  for (let i = 0; i < JOBS; i++) jobs.push(await queue.add('plain', { i, value: i }));
  const delayedSent = Date.now();
  const delayed = await queue.add('delayed', { value: 21 }, { delay: 3000 });
  const flaky = await queue.add('flaky', { value: 5 },
    { attempts: 2, backoff: { type: 'fixed', delay: 500 } });
  const counts = await queue.getJobCounts('wait', 'delayed');
  check(counts.wait === JOBS + 1 && counts.delayed === 1,
    `before the workers start: ${JOBS + 1} waiting, 1 delayed (${JSON.stringify(counts)})`);

  const workers = ['w1', 'w2'].map((name) => {
    const w = new Worker(QUEUE, processor(name), { connection, concurrency: 2 });
    w.on('error', (e) => errors.push(`${name}: ${e.message}`));
    return w;
  });
  events.on('error', (e) => errors.push(`queue events: ${e.message}`));
  let repeatSent;
  try {
    const results = await Promise.all(jobs.map((j) =>
      j.waitUntilFinished(events, 20000).catch((e) => `raised ${e.message}`)));
    const want = jobs.map((_, i) => ({ double: 2 * i }));
    check(JSON.stringify(results) === JSON.stringify(want),
      `waitUntilFinished returns each of the ${JOBS} results` +
      (JSON.stringify(results) === JSON.stringify(want) ? '' : ` (${JSON.stringify(results)})`));

    repeatSent = Date.now();
    await queue.add('repeat', { value: 7 }, { repeat: { every: 1000, limit: 3 } });
    check(!runs().has(delayed.id) || Date.now() >= delayedSent + 3000,
      'the delayed job has not run before +3 s');

    const done = await waitUntil(20000, () =>
      runs().has(delayed.id) && runsNamed('repeat').length >= 3 &&
      (runs().get(flaky.id) || []).length >= 2);
    check(done, 'the delayed job, 3 repeats and the flaky job\'s retry ran');
    await sleep(1500); // a 4th repeat or a duplicate run would show up in runs.log meanwhile

    const delayedResult = (await queue.getJob(delayed.id)).returnvalue;
    check(JSON.stringify(delayedResult) === '{"double":42}',
      `the delayed job's result is stored (${JSON.stringify(delayedResult)})`);
    const flakyJob = await queue.getJob(flaky.id);
    check(Boolean(flakyJob.finishedOn) && JSON.stringify(flakyJob.returnvalue) === '{"double":10}',
      `the flaky job finished with its second attempt's result (attemptsMade ` +
      `${flakyJob.attemptsMade}, returnvalue ${JSON.stringify(flakyJob.returnvalue)})`);

    const final = await queue.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed');
    check(final.wait === 0 && final.active === 0 && final.delayed === 0 && final.failed === 0 &&
      final.completed === JOBS + 5,
      `afterwards: 0 waiting/active/delayed/failed, ${JOBS + 5} completed ` +
      `(${JSON.stringify(final)})`);
    await waitUntil(2000, () => completed.size >= JOBS + 5);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await events.close();
    await queue.close();
  }

  const seen = runs();
  const perJob = jobs.map((j) => (seen.get(j.id) || []).length);
  check(perJob.every((n) => n === 1), `every plain job ran exactly once (${perJob})`);
  const byWorker = new Set(jobs.flatMap((j) => (seen.get(j.id) || []).map((e) => e.worker)));
  console.log(`info the ${JOBS} jobs ran in worker(s) ${[...byWorker].sort()}`);

  const d = seen.get(delayed.id) || [];
  check(d.length === 1, `the delayed job ran exactly once (${d.length} runs)`);
  if (d.length === 1) {
    const late = d[0].time - delayedSent;
    check(late >= 3000 && late < 10000,
      `delay: 3000 job added at ${delayedSent} ran at ${d[0].time}: +${late} ms ` +
      '(not before +3000 ms, within +10 s)');
  }

  const reps = runsNamed('repeat');
  check(reps.length === 3, `the repeatable job ran exactly 3 times (${reps.length})`);
  check(new Set(reps.map((e) => e.id)).size === reps.length,
    `each repeat is its own job (ids ${reps.map((e) => e.id)})`);
  const due = reps.map((e) => e.timestamp + e.delay);
  const early = reps.filter((e) => e.time < e.timestamp + e.delay || e.time < repeatSent);
  check(early.length === 0, 'no repeat ran before its due time ' +
    `(due ${due.map((t) => t - repeatSent)} ms, ran ${reps.map((e) => e.time - repeatSent)} ms ` +
    'after the add)');
  const gaps = due.slice(1).map((t, i) => t - due[i]);
  check(gaps.every((g) => g >= 1000), `repeats are due at least 1000 ms apart (${gaps})`);

  const f = seen.get(flaky.id) || [];
  check(JSON.stringify(f.map((e) => e.attemptsMade)) === '[0,1]',
    `the flaky job ran twice, attemptsMade 0 then 1 (${f.map((e) => e.attemptsMade)})`);
  if (f.length === 2) {
    const gap = f[1].time - f[0].time;
    check(gap >= 500, `its retry ran ${gap} ms after the first attempt (backoff 500 ms)`);
  }

  const extra = [...completed].filter(([, n]) => n !== 1);
  check(completed.size === JOBS + 5 && extra.length === 0,
    `QueueEvents saw ${JOBS + 5} 'completed' events, one per job (${completed.size} jobs` +
    `${extra.length ? `, repeated: ${JSON.stringify(extra)}` : ''})`);
  check(errors.length === 0, `no worker or QueueEvents error (${errors.slice(0, 5)})`);

  if (failures.length) {
    console.log(`${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.log(`FAIL raised ${e.stack || e}`);
  process.exit(1);
});
