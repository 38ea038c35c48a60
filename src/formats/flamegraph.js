// SPDX-License-Identifier: MIT
// The interactive part of spyglass's flame graphs (src/formats/flamegraph.c),
// compiled into spyglass and embedded in every SVG inside a CDATA section:
// it must never contain the three characters that end one.
//
// The SVG draws everything itself; this only adds hover details, zoom and
// search. Each frame is <g data-x data-w data-d> (first sample, samples,
// depth) holding <title>NAME\nN samples, P%</title>, <rect> and <text>; in a
// differential flame graph also data-info, what hovering it tells instead.
"use strict";
(function () {
	const svg = document.documentElement;
	const total = Number(svg.getAttribute("data-total"));
	const left = Number(svg.getAttribute("data-pad"));
	const width = Number(svg.getAttribute("data-fw"));
	const charWidth = Number(svg.getAttribute("data-charw"));
	const details = document.getElementById("details");
	const unzoomButton = document.getElementById("unzoom");
	const searchButton = document.getElementById("search");
	const matched = document.getElementById("matched");

	const frames = Array.from(document.querySelectorAll("#frames > g"), (g) => ({
		g: g,
		rect: g.querySelector("rect"),
		text: g.querySelector("text"),
		name: g.querySelector("title").textContent.split("\n")[0],
		x: Number(g.getAttribute("data-x")),
		w: Number(g.getAttribute("data-w")),
		d: Number(g.getAttribute("data-d")),
		info: g.getAttribute("data-info"), // differential graphs: both shares, the change
	}));
	const byElement = new Map(frames.map((f) => [f.g, f]));
	// Frames a zoom moved, to put back on unzoom: with tens of thousands of
	// frames, rewriting them all would take seconds.
	const moved = new Set();
	let searching = false;

	function percent(n) {
		return (total ? (100 * n) / total : 0).toFixed(2) + "%";
	}

	// The same rule as label() in flamegraph.c, so a reset view looks
	// exactly as written.
	function label(name, w) {
		const fit = Math.floor((w - 6) / charWidth);
		if (fit < 3)
			return "";
		const chars = Array.from(name);
		return chars.length <= fit ? name : chars.slice(0, fit - 2).join("") + "..";
	}

	function place(f, x, w) {
		f.rect.setAttribute("x", x.toFixed(2));
		f.rect.setAttribute("width", w.toFixed(2));
		f.text.setAttribute("x", (x + 3).toFixed(2));
		f.text.textContent = label(f.name, w);
	}

	// Show the subtree of z across the whole width. Its ancestors stay, at
	// full width and faded; every other frame is hidden.
	function zoom(z) {
		for (const f of frames) {
			const inside = f.x >= z.x && f.x + f.w <= z.x + z.w;
			const ancestor = f.d < z.d && f.x <= z.x && f.x + f.w >= z.x + z.w;
			f.g.classList.toggle("hide", !ancestor && !(inside && f.d >= z.d));
			f.g.classList.toggle("parent", ancestor);
			if (ancestor)
				place(f, left, width);
			else if (inside && f.d >= z.d)
				place(f, left + ((f.x - z.x) / z.w) * width, (f.w / z.w) * width);
			else
				continue;
			moved.add(f);
		}
		unzoomButton.classList.remove("hide");
	}

	function unzoom() {
		for (const f of frames)
			f.g.classList.remove("hide", "parent");
		for (const f of moved)
			place(f, left + (f.x / total) * width, (f.w / total) * width);
		moved.clear();
		unzoomButton.classList.add("hide");
	}

	// Highlight the frames whose name matches the regular expression term,
	// and report the share of samples with at least one of them on their
	// stack: the union of the matched frames' sample ranges, so a sample
	// under several nested matches counts once. The root "all" (depth 0)
	// is no function and never matches.
	function search(term) {
		let re;
		try {
			re = new RegExp(term);
		} catch (e) {
			matched.textContent = "Bad regex: " + e.message;
			return;
		}
		const hits = [];
		for (const f of frames) {
			const hit = f.d > 0 && re.test(f.name);
			f.g.classList.toggle("hl", hit);
			if (hit)
				hits.push(f);
		}
		hits.sort((a, b) => a.x - b.x || b.w - a.w);
		let samples = 0;
		let end = 0;
		for (const f of hits) {
			if (f.x + f.w > end) {
				samples += f.x + f.w - Math.max(f.x, end);
				end = f.x + f.w;
			}
		}
		matched.textContent = "Matched: " + percent(samples);
		searchButton.textContent = "Reset search";
		searching = true;
	}

	function resetSearch() {
		for (const f of frames)
			f.g.classList.remove("hl");
		matched.textContent = "";
		searchButton.textContent = "Search";
		searching = false;
	}

	function askSearch() {
		const term = window.prompt("Search for a regular expression", "");
		if (term)
			search(term);
		else if (term === "")
			resetSearch();
	}

	function frameOf(event) {
		const g = event.target.closest("#frames > g");
		return g ? byElement.get(g) : undefined;
	}

	svg.addEventListener("mouseover", (event) => {
		const f = frameOf(event);
		if (f) {
			const n = f.w === 1 ? "1 sample" : f.w + " samples";
			details.textContent =
				"Function: " + f.name + ", " + (f.info || n + ", " + percent(f.w));
		}
	});
	svg.addEventListener("mouseout", (event) => {
		if (frameOf(event))
			details.textContent = " ";
	});
	svg.addEventListener("click", (event) => {
		const f = frameOf(event);
		if (f)
			zoom(f);
	});
	unzoomButton.addEventListener("click", unzoom);
	searchButton.addEventListener("click", () => (searching ? resetSearch() : askSearch()));
	// Ctrl-F (Cmd-F on a Mac) searches the graph, as in flamegraph.pl,
	// rather than the page's text, which is mostly cut-off labels.
	window.addEventListener("keydown", (event) => {
		if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "f") {
			event.preventDefault();
			askSearch();
		}
	});
})();
