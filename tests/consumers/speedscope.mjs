// SPDX-License-Identifier: MIT
// Check a file the way speedscope itself sees it.
//
//   node speedscope.mjs FILE [--no-import]
//
// FILE is a .speedscope.json, or a Chrome trace (.trace.json), which
// speedscope also opens.
//
// For a speedscope file:
// 1. Validate it against the JSON schema speedscope publishes
//    (dist/release/file-format-schema.json, draft-07) with ajv.
// 2. Check what the schema cannot say: sample and weight arrays of equal
//    length, frame indices in range, weights positive, every frame used.
// 3. Import it with speedscope's own code (see below) and compare: profile
//    names, units, each profile's total weight and the frames it uses, the
//    profile shown first.
//
// For a Chrome trace, import it the same way and compare: a profile per
// thread, named with the thread's name, whose total is the thread's span
// and whose frames are the thread's distinct slices; and no slice that
// speedscope could not nest (it says so on the console).
//
// Importing: the bundled app (it only runs in a browser) is loaded in
// headless Chromium with #localProfilePath, as speedscope's CLI does, then
// asked to export what it imported (its Ctrl+S). The export is speedscope's
// model written back out. --no-import skips this step.
//
// Prints one JSON object on stdout (what the file holds, and whether the
// import matched) for the caller's own checks; exits 1 with the reason on
// stderr when any check fails.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import Ajv from 'ajv'

const here = path.dirname(fileURLToPath(import.meta.url))
const release = path.join(here, 'node_modules', 'speedscope', 'dist', 'release')

function fail(why) {
  process.stderr.write(`speedscope.mjs: ${why}\n`)
  process.exit(1)
}

function validate(file) {
  const schema = JSON.parse(fs.readFileSync(path.join(release, 'file-format-schema.json'), 'utf8'))
  const ajv = new Ajv({allErrors: true, strict: false})
  const check = ajv.compile(schema)
  if (!check(file)) fail('schema: ' + ajv.errorsText(check.errors))
}

// What the schema leaves to speedscope's importer, which throws or
// silently drops samples over these.
function ownChecks(file) {
  const used = new Set()
  for (const p of file.profiles) {
    if (p.samples.length !== p.weights.length)
      fail(`${p.name}: ${p.samples.length} samples but ${p.weights.length} weights`)
    for (const stack of p.samples)
      for (const f of stack) {
        if (!Number.isInteger(f) || f < 0 || f >= file.shared.frames.length)
          fail(`${p.name}: frame index ${f} out of range`)
        used.add(f)
      }
    for (const w of p.weights) if (!(w > 0)) fail(`${p.name}: weight ${w} is not positive`)
    if (p.endValue < p.startValue) fail(`${p.name}: endValue before startValue`)
  }
  if (used.size !== file.shared.frames.length)
    fail(`${file.shared.frames.length} frames but only ${used.size} used`)
}

function findChromium() {
  const names = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome']
  for (const name of names.filter(Boolean)) {
    if (path.isAbsolute(name)) {
      if (fs.existsSync(name)) return name
      continue
    }
    for (const dir of (process.env.PATH || '').split(':')) {
      const exe = path.join(dir, name)
      if (fs.existsSync(exe)) return exe
    }
  }
  fail('no Chromium found (set CHROMIUM, or pass --no-import)')
}

// speedscope's model of the file, as its own exporter writes it, and what
// its importer said on the console.
async function importWithSpeedscope(filePath) {
  const {chromium} = await import('playwright-core')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'speedscope-check-'))
  const loader = path.join(tmp, 'load.js')
  const data = fs.readFileSync(filePath).toString('base64')
  fs.writeFileSync(
    loader,
    `speedscope.loadFileFromBase64(${JSON.stringify(path.basename(filePath))}, ${JSON.stringify(data)})`,
  )
  const browser = await chromium.launch({executablePath: findChromium(), args: ['--no-sandbox']})
  const errors = []
  const warnings = []
  try {
    const page = await browser.newPage({acceptDownloads: true})
    page.on('pageerror', e => errors.push(String(e)))
    page.on('console', m => {
      if (m.type() === 'error') errors.push(m.text())
      // Chromium's own GPU chatter is no concern of the importer's.
      if (m.type() === 'warning' && !m.text().includes('GL Driver')) warnings.push(m.text())
    })
    await page.goto(`file://${path.join(release, 'index.html')}#localProfilePath=${loader}`)
    // The title names the profile once the import finished; an import that
    // throws shows an error screen instead.
    await page.waitForFunction(
      () =>
        document.title.endsWith(' - speedscope') ||
        document.body.innerText.includes('Something went wrong'),
      null,
      {timeout: 60000},
    )
    if (!(await page.title()).endsWith(' - speedscope'))
      fail('speedscope could not import the file: ' + errors.join('; '))
    const download = page.waitForEvent('download')
    await page.keyboard.press('Control+s')
    const exported = JSON.parse(fs.readFileSync(await (await download).path(), 'utf8'))
    return {title: await page.title(), exported, warnings}
  } finally {
    await browser.close()
    fs.rmSync(tmp, {recursive: true, force: true})
  }
}

// The names of the frames that stacks use (each a list of frame indices).
function usedNames(frames, stacks) {
  const names = new Set()
  for (const stack of stacks) for (const f of stack) names.add(frames[f].name)
  return names
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every(x => b.has(x))
}

// The frames each exported profile opens, by name.
function exportedNames(exported, q) {
  return usedNames(
    exported.shared.frames,
    q.events.filter(e => e.type === 'O').map(e => [e.frame]),
  )
}

function compareSpeedscope(file, seen) {
  const {exported} = seen
  let perProfile = 0
  if (exported.profiles.length !== file.profiles.length)
    fail(`speedscope saw ${exported.profiles.length} profiles, the file has ${file.profiles.length}`)
  file.profiles.forEach((p, i) => {
    const q = exported.profiles[i]
    const total = p.weights.reduce((a, b) => a + b, 0)
    const want = usedNames(file.shared.frames, p.samples)
    const got = exportedNames(exported, q)
    if (q.name !== p.name) fail(`profile ${i}: speedscope named it ${q.name}, the file ${p.name}`)
    if (q.unit !== p.unit) fail(`${p.name}: unit ${q.unit} in speedscope, ${p.unit} in the file`)
    if (q.endValue - q.startValue !== total)
      fail(`${p.name}: speedscope's total weight ${q.endValue - q.startValue}, the file's ${total}`)
    if (!sameSet(got, want))
      fail(`${p.name}: speedscope saw frames ${[...got]}, the file uses ${[...want]}`)
    perProfile += want.size
  })
  // speedscope keeps frames per profile, so its export lists a frame once
  // for every profile that uses it.
  if (exported.shared.frames.length !== perProfile)
    fail(`speedscope exported ${exported.shared.frames.length} frames, the profiles use ${perProfile}`)
  if (exported.activeProfileIndex !== (file.activeProfileIndex || 0))
    fail(`speedscope shows profile ${exported.activeProfileIndex}, the file asks for ${file.activeProfileIndex}`)
}

// Per thread of a Chrome trace: its name, span, and distinct slices as
// speedscope names frames ("NAME ARGS-AS-JSON").
function traceThreads(trace) {
  const threads = new Map()
  for (const e of trace.traceEvents) {
    const key = `${e.pid}:${e.tid}`
    if (!threads.has(key)) threads.set(key, {tid: e.tid, start: Infinity, end: -Infinity, frames: new Set()})
    const t = threads.get(key)
    if (e.ph === 'M' && e.name === 'thread_name') t.name = e.args.name
    if (e.ph !== 'B' && e.ph !== 'E') continue
    t.start = Math.min(t.start, e.ts)
    t.end = Math.max(t.end, e.ts)
    if (e.ph === 'B') t.frames.add(`${e.name} ${JSON.stringify(e.args)}`)
  }
  return [...threads.values()].filter(t => t.frames.size)
}

function compareTrace(trace, seen) {
  const {exported, warnings} = seen
  const threads = traceThreads(trace)
  // speedscope warns for every end it cannot pair and every frame it has
  // to close itself: slices that do not nest. (It also notes each end that
  // names its slice without the args, then ends it all the same.)
  const bad = warnings.filter(w => /Doing nothing|still open|stack was empty/.test(w))
  if (bad.length) fail(`speedscope could not nest the slices: ${bad.slice(0, 5).join('; ')}`)
  if (exported.profiles.length !== threads.length)
    fail(`speedscope saw ${exported.profiles.length} threads, the trace has ${threads.length}`)
  for (const t of threads) {
    // "CMD (pid P), NAME (tid T)", or "... (pid P, tid T)" for a thread without a name.
    const q = exported.profiles.find(p => p.name.endsWith(`tid ${t.tid})`))
    if (!q) fail(`no profile for tid ${t.tid} among ${exported.profiles.map(p => p.name)}`)
    if (t.name && !q.name.includes(t.name)) fail(`${q.name} does not name thread ${t.name}`)
    // speedscope's times are the trace's less its first, in floating point.
    if (Math.abs(q.endValue - q.startValue - (t.end - t.start)) > 0.01)
      fail(`${q.name}: speedscope's total ${q.endValue - q.startValue}, the thread spans ${t.end - t.start}`)
    if (!sameSet(exportedNames(exported, q), t.frames))
      fail(`${q.name}: speedscope saw other frames than the thread's slices`)
  }
}

async function main() {
  const args = process.argv.slice(2)
  const filePath = args.find(a => !a.startsWith('--'))
  if (!filePath) fail('usage: node speedscope.mjs FILE [--no-import]')
  let file
  try {
    file = JSON.parse(fs.readFileSync(filePath, 'utf8'))
  } catch (e) {
    fail(`${filePath}: not JSON: ${e.message}`)
  }
  const isTrace = Array.isArray(file.traceEvents)
  let summary
  if (isTrace) {
    summary = {threads: traceThreads(file).map(t => ({tid: t.tid, name: t.name, span: t.end - t.start}))}
  } else {
    validate(file)
    ownChecks(file)
    summary = {
      name: file.name,
      frames: file.shared.frames.map(f => f.name),
      activeProfileIndex: file.activeProfileIndex,
      profiles: file.profiles.map(p => ({
        name: p.name,
        samples: p.samples.length,
        weight: p.weights.reduce((a, b) => a + b, 0),
        startValue: p.startValue,
        endValue: p.endValue,
      })),
    }
  }
  summary.imported = false
  if (!args.includes('--no-import')) {
    const seen = await importWithSpeedscope(filePath)
    if (isTrace) compareTrace(file, seen)
    else compareSpeedscope(file, seen)
    summary.imported = true
    summary.title = seen.title
  }
  process.stdout.write(JSON.stringify(summary) + '\n')
}

main().catch(e => fail(e.stack || String(e)))
