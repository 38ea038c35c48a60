// SPDX-License-Identifier: MIT
// Check a .speedscope.json the way speedscope itself sees it.
//
//   node speedscope.mjs FILE [--no-import]
//
// 1. Validate FILE against the JSON schema speedscope publishes
//    (dist/release/file-format-schema.json, draft-07) with ajv.
// 2. Check what the schema cannot say: sample and weight arrays of equal
//    length, frame indices in range, weights positive, every frame used.
// 3. Import it with speedscope's own code: the bundled app (it only runs in a
//    browser) is loaded in headless Chromium with #localProfilePath, as
//    speedscope's CLI does, then asked to export what it imported (its
//    Ctrl+S). The export is speedscope's model written back out: profile
//    names, the frames, and each profile's total weight as it computed it.
//    These must match the file. --no-import skips this step.
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

// speedscope's model of the file, as its own exporter writes it.
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
  try {
    const page = await browser.newPage({acceptDownloads: true})
    page.on('pageerror', e => errors.push(String(e)))
    page.on('console', m => m.type() === 'error' && errors.push(m.text()))
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
    return {title: await page.title(), exported, errors}
  } finally {
    await browser.close()
    fs.rmSync(tmp, {recursive: true, force: true})
  }
}

// The names of the frames a profile's samples use.
function usedNames(frames, stacks) {
  const names = new Set()
  for (const stack of stacks) for (const f of stack) names.add(frames[f].name)
  return names
}

function compare(file, seen) {
  const {exported} = seen
  const frames = exported.shared.frames
  let perProfile = 0
  if (exported.profiles.length !== file.profiles.length)
    fail(`speedscope saw ${exported.profiles.length} profiles, the file has ${file.profiles.length}`)
  file.profiles.forEach((p, i) => {
    const q = exported.profiles[i]
    const total = p.weights.reduce((a, b) => a + b, 0)
    const want = usedNames(file.shared.frames, p.samples)
    const got = usedNames(
      frames,
      q.events.filter(e => e.type === 'O').map(e => [e.frame]),
    )
    if (q.name !== p.name) fail(`profile ${i}: speedscope named it ${q.name}, the file ${p.name}`)
    if (q.unit !== p.unit) fail(`${p.name}: unit ${q.unit} in speedscope, ${p.unit} in the file`)
    if (q.endValue - q.startValue !== total)
      fail(`${p.name}: speedscope's total weight ${q.endValue - q.startValue}, the file's ${total}`)
    if (got.size !== want.size || [...want].some(n => !got.has(n)))
      fail(`${p.name}: speedscope saw frames ${[...got]}, the file uses ${[...want]}`)
    perProfile += want.size
  })
  // speedscope keeps frames per profile, so its export lists a frame once
  // for every profile that uses it.
  if (frames.length !== perProfile)
    fail(`speedscope exported ${frames.length} frames, the profiles use ${perProfile}`)
  if (exported.activeProfileIndex !== (file.activeProfileIndex || 0))
    fail(`speedscope shows profile ${exported.activeProfileIndex}, the file asks for ${file.activeProfileIndex}`)
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
  validate(file)
  ownChecks(file)
  const summary = {
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
    imported: false,
  }
  if (!args.includes('--no-import')) {
    const seen = await importWithSpeedscope(filePath)
    compare(file, seen)
    summary.imported = true
    summary.title = seen.title
  }
  process.stdout.write(JSON.stringify(summary) + '\n')
}

main().catch(e => fail(e.stack || String(e)))
