// SPDX-License-Identifier: MIT
// Drives a spyglass flame graph (SVG) in headless Chromium the way a person
// would, and checks what the page shows. Run by
// tests/integration/test_flamegraph.py:
//
//   node flamegraph.mjs SPEC.json
//
// SPEC: {svg, screenshot, total,
//        hover: {x, d, name, count, details}   a frame to hover, click and zoom
//            into; details, optional: what hovering it must show (default:
//            "Function: NAME, COUNT samples, P%"),
//        fills: [{x, d, fill}]   optional: frames and the colour they must
//            be drawn in, e.g. "rgb(255, 80, 80)",
//        searches: [{regex, frames, percent, via}]   optional: how many
//            frames the regex should highlight and the share of samples
//            they should report, searched via the "button" or "ctrl-f"}
// Exits 0 when every check passes, else prints what failed and exits 1.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const errors = [];

function frameSelector(x, d) {
	return `#frames > g[data-x="${x}"][data-d="${d}"]`;
}

// Every frame's geometry and state, as the page has it now.
function snapshot(page) {
	return page.$$eval("#frames > g", (gs) =>
		gs.map((g) => ({
			x: Number(g.getAttribute("data-x")),
			w: Number(g.getAttribute("data-w")),
			d: Number(g.getAttribute("data-d")),
			name: g.querySelector("title").textContent.split("\n")[0],
			shown: getComputedStyle(g).display !== "none",
			rx: Number(g.querySelector("rect").getAttribute("x")),
			rw: Number(g.querySelector("rect").getAttribute("width")),
			fill: getComputedStyle(g.querySelector("rect")).fill,
			hl: g.classList.contains("hl"),
		})),
	);
}

function near(a, b, what) {
	assert.ok(Math.abs(a - b) <= 0.011, `${what}: ${a} vs ${b}`);
}

async function checkHoverAndZoom(page, svg) {
	const h = spec.hover;
	const target = page.locator(frameSelector(h.x, h.d));
	const before = await snapshot(page);

	await target.locator("rect").hover();
	const pct = ((100 * h.count) / spec.total).toFixed(2);
	assert.equal(
		await page.textContent("#details"),
		h.details || `Function: ${h.name}, ${h.count} sample${h.count === 1 ? "" : "s"}, ${pct}%`,
	);

	await target.locator("rect").click();
	const after = await snapshot(page);
	for (const f of after) {
		const inside = f.x >= h.x && f.x + f.w <= h.x + h.count;
		const ancestor = f.d < h.d && f.x <= h.x && f.x + f.w >= h.x + h.count;
		if (f.d === h.d && f.x === h.x) {
			near(f.rx, svg.pad, "zoomed frame's x");
			near(f.rw, svg.fw, "zoomed frame's width");
		} else if (ancestor) {
			assert.ok(f.shown, `ancestor ${f.name} hidden`);
			near(f.rw, svg.fw, `ancestor ${f.name}'s width`);
		} else if (inside && f.d > h.d) {
			assert.ok(f.shown, `descendant ${f.name} hidden`);
			near(f.rw, (f.w / h.count) * svg.fw, `descendant ${f.name}'s width`);
		} else {
			assert.ok(!f.shown, `${f.name} (depth ${f.d}) still shown`);
		}
	}
	assert.ok(await page.isVisible("#unzoom"), "no Reset zoom after a zoom");

	await page.click("#unzoom");
	const reset = await snapshot(page);
	for (const [i, f] of reset.entries()) {
		assert.ok(f.shown, `${f.name} hidden after Reset zoom`);
		near(f.rx, before[i].rx, `${f.name}'s x after Reset zoom`);
		near(f.rw, before[i].rw, `${f.name}'s width after Reset zoom`);
	}
	assert.ok(!(await page.isVisible("#unzoom")), "Reset zoom still shown");
	return after.filter((f) => f.shown).length;
}

async function checkSearch(page, s) {
	page.once("dialog", (dialog) => dialog.accept(s.regex));
	if (s.via === "ctrl-f")
		await page.keyboard.press("Control+f");
	else
		await page.click("#search");
	const text = await page.textContent("#matched");
	const m = /^Matched: ([0-9.]+)%$/.exec(text);
	assert.ok(m, `matched text: ${JSON.stringify(text)}`);
	near(Number(m[1]), s.percent, `matched share of /${s.regex}/`);

	const frames = await snapshot(page);
	const hits = frames.filter((f) => f.hl);
	const re = new RegExp(s.regex);
	assert.equal(hits.length, s.frames, `frames highlighted by /${s.regex}/`);
	for (const f of hits) {
		assert.ok(re.test(f.name), `${f.name} highlighted by /${s.regex}/`);
		assert.equal(f.fill, "rgb(230, 0, 230)");
	}
	for (const f of frames.filter((f) => !f.hl && f.d > 0))
		assert.ok(!re.test(f.name), `${f.name} not highlighted by /${s.regex}/`);
	assert.equal(await page.textContent("#search"), "Reset search");

	await page.click("#search");
	assert.equal(await page.textContent("#matched"), "");
	assert.equal((await snapshot(page)).filter((f) => f.hl).length, 0);
	return { regex: s.regex, matched: Number(m[1]), frames: hits.length };
}

const browser = await chromium.launch({
	executablePath: "/usr/bin/chromium",
	args: ["--no-sandbox"],
});
try {
	const page = await browser.newPage();
	page.on("console", (msg) => {
		if (msg.type() === "error")
			errors.push(`console: ${msg.text()}`);
	});
	page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
	await page.goto(pathToFileURL(spec.svg).href);
	const svg = await page.$eval("svg", (e) => ({
		pad: Number(e.getAttribute("data-pad")),
		fw: Number(e.getAttribute("data-fw")),
		height: Number(e.getAttribute("height")),
		total: Number(e.getAttribute("data-total")),
	}));
	assert.equal(svg.total, spec.total);
	await page.setViewportSize({ width: 1200, height: svg.height });

	for (const f of spec.fills || []) {
		const drawn = await page.$eval(`${frameSelector(f.x, f.d)} > rect`, (r) =>
			getComputedStyle(r).fill,
		);
		assert.equal(drawn, f.fill, `fill of the frame at x ${f.x}, depth ${f.d}`);
	}
	const shownWhenZoomed = await checkHoverAndZoom(page, svg);
	const searches = [];
	for (const s of spec.searches || [])
		searches.push(await checkSearch(page, s));

	await page.locator(frameSelector(spec.hover.x, spec.hover.d)).locator("rect").hover();
	await page.screenshot({ path: spec.screenshot });
	assert.deepEqual(errors, []);
	console.log(JSON.stringify({ shownWhenZoomed, searches }));
} finally {
	await browser.close();
}
