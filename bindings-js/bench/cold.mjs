// One cold start, in a fresh process: import the package (read + compile + instantiate the
// module), load a bundle, decide once. Prints JSON timings in milliseconds. Run by bench.mjs.

const t0 = performance.now();
const { Pdp } = await import('mandate-pdp');
const t1 = performance.now();
const { config, input } = JSON.parse(process.argv[2]);
const pdp = await Pdp.load(config);
const t2 = performance.now();
const d = pdp.decideWithoutReplayCheck(input);
const t3 = performance.now();
const decision = JSON.parse(new TextDecoder().decode(d)).decision;
console.log(JSON.stringify({ import: t1 - t0, load: t2 - t1, first: t3 - t2, total: t3 - t0, sinceProcessStart: t3, decision }));
