// ort_bench.js — onnxruntime-node's forward pass for bench/score.sh: one ONNX
// model, one batch size, 2 intra-op threads, random input; after warm-up each
// run covers at least 32 images. Prints "images_per_s median best maxrss_kb".
// With --logits it runs N images of raw float32 [N, 3, 224, 224] from IN and
// writes their logits as raw float32 to OUT (the agreement check). With
// --images N it times, after warm-up, one stretch of ceil(N / BATCH) batches
// and prints "images_per_s seconds maxrss_kb" (bench/score256.sh).
// Usage: NODE_PATH=DIR/node_modules node ort_bench.js MODEL.onnx BATCH RUNS
//        NODE_PATH=DIR/node_modules node ort_bench.js MODEL.onnx BATCH --images N
//        NODE_PATH=DIR/node_modules node ort_bench.js MODEL.onnx --logits IN N OUT
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function logits(model, inPath, n, outPath) {
	const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 2});
	const b = fs.readFileSync(inPath);
	if (b.length !== n * 3 * 224 * 224 * 4) throw new Error(`${inPath}: expected ${n} images of 3x224x224 float32`);
	const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
	const out = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', data, [n, 3, 224, 224])});
	const l = out[session.outputNames[0]].data;
	fs.writeFileSync(outPath, Buffer.from(l.buffer, l.byteOffset, l.byteLength));
}

async function main() {
	if (process.argv[3] === '--logits') {
		const [model, , inPath, n, outPath] = process.argv.slice(2);
		return logits(model, inPath, parseInt(n, 10), outPath);
	}
	const [model, batchArg, runsArg, imagesArg] = process.argv.slice(2);
	const batch = parseInt(batchArg, 10);
	const stretch = runsArg === '--images';
	const runs = parseInt(stretch ? imagesArg : runsArg, 10);
	if (!model || !(batch > 0) || !(runs > 0)) {
		console.error('usage: node ort_bench.js MODEL.onnx BATCH RUNS | MODEL.onnx BATCH --images N | ' +
			'MODEL.onnx --logits IN N OUT');
		process.exit(2);
	}
	const session = await ort.InferenceSession.create(model, {
		intraOpNumThreads: 2,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		graphOptimizationLevel: 'all',
	});
	const data = new Float32Array(batch * 3 * 224 * 224);
	for (let i = 0; i < data.length; i++) data[i] = Math.random() * 4 - 2;
	const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, 224, 224])};
	const perRun = Math.max(1, Math.floor(32 / batch));
	await session.run(feeds); // warm-up
	if (batch < 8) await session.run(feeds);
	if (stretch) {
		const n = Math.ceil(runs / batch);
		const t0 = process.hrtime.bigint();
		for (let i = 0; i < n; i++) await session.run(feeds);
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		console.log(`${((n * batch) / s).toFixed(2)} ${s.toFixed(3)} ${process.resourceUsage().maxRSS}`);
		return;
	}
	const rates = [];
	for (let r = 0; r < runs; r++) {
		const t0 = process.hrtime.bigint();
		for (let i = 0; i < perRun; i++) await session.run(feeds);
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		rates.push((perRun * batch) / s);
	}
	rates.sort((a, b) => a - b);
	const median = rates.length % 2 ? rates[(rates.length - 1) / 2] :
		(rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
	console.log(`${median.toFixed(2)} ${rates[rates.length - 1].toFixed(2)} ${process.resourceUsage().maxRSS}`);
}

main().catch((e) => {
	console.error(`ort_bench: ${e.message}`);
	process.exit(1);
});
