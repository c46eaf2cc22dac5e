import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isPushgateError } from '../../src/core/errors';
import {
  h265LayerId,
  h265NalType,
  H265NalType,
  isH265Keyframe,
  isH265ParameterSet,
  isH265Vcl,
  parseH265Sps,
  startsH265AccessUnit,
} from '../../src/ingest/h265';
import { BitWriter, encode, findNal, type EncodeOptions } from './helpers/media';

function spsOf(options: Omit<EncodeOptions, 'codec'>): Buffer {
  return findNal('h265', encode({ codec: 'h265', frames: 1, ...options }), H265NalType.SPS);
}

/** Explicit sets code delta_poc_minus1 = 0, 1, 2, ...; predicted ones give [used_by_curr_pic, use_delta] per reference delta. */
type RefPicSet = { negative: number; positive: number } | { deltaRps: number; flags: readonly (readonly [boolean, boolean])[] };

interface SpsFields {
  maxSubLayersMinus1?: number;
  /** Per sub-layer: [sub_layer_profile_present_flag, sub_layer_level_present_flag]. */
  subLayers?: readonly (readonly [boolean, boolean])[];
  profileIdc?: number;
  compatibility?: number;
  highTier?: boolean;
  levelIdc?: number;
  chromaFormatIdc?: number;
  separateColourPlane?: boolean;
  width?: number;
  height?: number;
  confWin?: readonly [number, number, number, number];
  subLayerOrderingInfo?: boolean;
  scalingLists?: 'default' | 'explicit';
  pcm?: boolean;
  refPicSets?: readonly RefPicSet[];
  longTermPics?: number;
  log2MaxPocLsb?: number;
  vui?: {
    sar?: readonly [number, number];
    overscan?: boolean;
    colourDescription?: boolean;
    chromaLoc?: readonly [number, number];
    fieldSeq?: boolean;
    displayWindow?: readonly [number, number, number, number];
    timing?: readonly [number, number];
  };
}

/** Writes seq_parameter_set_rbsp() (7.3.2.2) field by field. */
function buildSps(f: SpsFields): Buffer {
  const w = new BitWriter();
  const subLayersMinus1 = f.maxSubLayersMinus1 ?? 0;
  w.u(4, 0).u(3, subLayersMinus1).flag(true);
  // profile_tier_level(1, sps_max_sub_layers_minus1)
  const writeProfile = (): void => {
    w.u(2, 0).flag(f.highTier ?? false).u(5, f.profileIdc ?? 1).u(32, f.compatibility ?? 0x60000000);
    w.u(4, 0b1001).u(32, 0).u(12, 0);
  };
  writeProfile();
  w.u(8, f.levelIdc ?? 93);
  const subLayers = f.subLayers ?? [];
  for (let i = 0; i < subLayersMinus1; i++) w.flag(subLayers[i]?.[0] ?? false).flag(subLayers[i]?.[1] ?? false);
  if (subLayersMinus1 > 0) for (let i = subLayersMinus1; i < 8; i++) w.u(2, 0);
  for (let i = 0; i < subLayersMinus1; i++) {
    if (subLayers[i]?.[0]) writeProfile();
    if (subLayers[i]?.[1]) w.u(8, 90);
  }
  w.ue(0); // sps_seq_parameter_set_id
  const chroma = f.chromaFormatIdc ?? 1;
  w.ue(chroma);
  if (chroma === 3) w.flag(f.separateColourPlane ?? false);
  w.ue(f.width ?? 1280).ue(f.height ?? 720);
  w.flag(f.confWin !== undefined);
  for (const offset of f.confWin ?? []) w.ue(offset);
  const log2MaxPocLsb = f.log2MaxPocLsb ?? 8;
  w.ue(0).ue(0).ue(log2MaxPocLsb - 4);
  const ordering = f.subLayerOrderingInfo ?? true;
  w.flag(ordering);
  for (let i = ordering ? 0 : subLayersMinus1; i <= subLayersMinus1; i++) w.ue(4).ue(2).ue(5);
  w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1);
  w.flag(f.scalingLists !== undefined);
  if (f.scalingLists) {
    w.flag(f.scalingLists === 'explicit');
    if (f.scalingLists === 'explicit') {
      for (let sizeId = 0; sizeId < 4; sizeId++) {
        for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
          // Alternate copied and explicitly coded matrices.
          const explicit = (sizeId + matrixId) % 2 === 0;
          w.flag(explicit);
          if (!explicit) {
            w.ue(matrixId > 0 ? 1 : 0);
            continue;
          }
          if (sizeId > 1) w.se(8);
          const coefficients = Math.min(64, 1 << (4 + (sizeId << 1)));
          for (let i = 0; i < coefficients; i++) w.se(i % 3 === 0 ? 2 : -1);
        }
      }
    }
  }
  w.flag(false).flag(true); // amp, sao
  w.flag(f.pcm ?? false);
  if (f.pcm) w.u(4, 7).u(4, 7).ue(0).ue(1).flag(true);
  const sets = f.refPicSets ?? [];
  w.ue(sets.length);
  let previous = { s0: [] as number[], s1: [] as number[] };
  sets.forEach((set, idx) => {
    if (idx !== 0) w.flag('deltaRps' in set);
    if ('deltaRps' in set) {
      w.flag(set.deltaRps < 0).ue(Math.abs(set.deltaRps) - 1);
      // Candidates in syntax order (s0, s1, then deltaRps itself); kept when flagged and non-zero.
      const candidates = [...previous.s0, ...previous.s1].map((poc) => poc + set.deltaRps).concat(set.deltaRps);
      assert.equal(set.flags.length, candidates.length, 'one flag pair per reference delta + 1');
      const kept: number[] = [];
      set.flags.forEach(([used, useDelta], j) => {
        w.flag(used);
        if (!used) w.flag(useDelta);
        if ((used || useDelta) && candidates[j] !== 0) kept.push(candidates[j] as number);
      });
      previous = { s0: kept.filter((poc) => poc < 0), s1: kept.filter((poc) => poc > 0) };
    } else {
      w.ue(set.negative).ue(set.positive);
      const s0: number[] = [];
      const s1: number[] = [];
      for (let i = 0; i < set.negative + set.positive; i++) {
        w.ue(i).flag(i % 2 === 0);
        const last = i < set.negative ? (s0[s0.length - 1] ?? 0) : (s1[s1.length - 1] ?? 0);
        if (i < set.negative) s0.push(last - i - 1);
        else s1.push(last + i + 1);
      }
      previous = { s0, s1 };
    }
  });
  w.flag(f.longTermPics !== undefined);
  if (f.longTermPics !== undefined) {
    w.ue(f.longTermPics);
    for (let i = 0; i < f.longTermPics; i++) w.u(log2MaxPocLsb, i * 3).flag(true);
  }
  w.flag(true).flag(true); // temporal mvp, strong intra smoothing
  const vui = f.vui;
  w.flag(vui !== undefined);
  if (vui) {
    w.flag(vui.sar !== undefined);
    if (vui.sar) w.u(8, 255).u(16, vui.sar[0]).u(16, vui.sar[1]);
    w.flag(vui.overscan !== undefined);
    if (vui.overscan !== undefined) w.flag(vui.overscan);
    w.flag(vui.colourDescription !== undefined);
    if (vui.colourDescription !== undefined) {
      w.u(3, 5).flag(false).flag(vui.colourDescription);
      if (vui.colourDescription) w.u(8, 1).u(8, 1).u(8, 1);
    }
    w.flag(vui.chromaLoc !== undefined);
    if (vui.chromaLoc) w.ue(vui.chromaLoc[0]).ue(vui.chromaLoc[1]);
    w.flag(false).flag(vui.fieldSeq ?? false).flag(vui.fieldSeq ?? false);
    w.flag(vui.displayWindow !== undefined);
    for (const offset of vui.displayWindow ?? []) w.ue(offset);
    w.flag(vui.timing !== undefined);
    if (vui.timing) w.u(32, vui.timing[0]).u(32, vui.timing[1]).flag(false).flag(false);
    w.flag(false); // bitstream_restriction_flag
  }
  w.flag(false); // sps_extension_present_flag
  return w.nal([0x42, 0x01]);
}

function invalidMedia(pattern: RegExp): (err: unknown) => boolean {
  return (err) => isPushgateError(err) && err.code === 'INVALID_MEDIA' && pattern.test(err.message);
}

const scratch = mkdtempSync(join(tmpdir(), 'pushgate-h265-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('parseH265Sps on x265 output', () => {
  it('reads size, frame rate and profile of a Main stream', () => {
    const track = parseH265Sps(spsOf({ width: 1280, height: 720 }));
    assert.deepEqual(track, { kind: 'video', codec: 'h265', width: 1280, height: 720, frameRate: 25, profile: 'Main@L3.1' });
  });

  it('applies the conformance window in chroma units for odd 4:2:0 sizes and reads 29.97 fps', () => {
    const track = parseH265Sps(spsOf({ width: 1918, height: 1078, rate: '30000/1001' }));
    assert.deepEqual([track.width, track.height, track.profile], [1918, 1078, 'Main@L4']);
    assert.ok(Math.abs((track.frameRate ?? 0) - 30000 / 1001) < 1e-9, `frameRate ${track.frameRate}`);
  });

  it('crops 4:4:4 and monochrome in luma units', () => {
    const full = parseH265Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'yuv444p' }));
    assert.deepEqual([full.width, full.height, full.profile], [1918, 1078, 'Rext@L4']);
    const gray = parseH265Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'gray' }));
    assert.deepEqual([gray.width, gray.height], [1918, 1078]);
  });

  it('crops 4:2:2 in two-column, one-row units (10 bit)', () => {
    const track = parseH265Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'yuv422p10le' }));
    assert.deepEqual([track.width, track.height, track.frameRate], [1918, 1078, 25]);
  });

  it('names Main 10 and the high tier', () => {
    assert.equal(parseH265Sps(spsOf({ pixFmt: 'yuv420p10le' })).profile, 'Main 10@L2');
    assert.equal(parseH265Sps(spsOf({ params: 'high-tier=1:level-idc=5.1' })).profile, 'Main@L5.1@High');
  });

  it('walks profile_tier_level and ordering info of two temporal sub-layers', () => {
    const track = parseH265Sps(spsOf({ params: 'temporal-layers=1', rate: '50' }));
    assert.deepEqual([track.width, track.height, track.frameRate], [320, 240, 50]);
  });

  it('skips explicitly coded scaling lists read from an HM-format file', () => {
    const file = join(scratch, 'lists.txt');
    writeFileSync(file, hmScalingListFile());
    const sps = spsOf({ params: `scaling-list=${file}`, rate: '24' });
    assert.ok(sps.length > 200, 'the lists make the SPS long');
    assert.deepEqual([parseH265Sps(sps).width, parseH265Sps(sps).frameRate], [320, 24]);
  });

  it('walks every VUI field before the timing info, including the default display window', () => {
    const params = 'display-window=2,4,6,8:chromaloc=1:overscan=show:videoformat=pal:colorprim=bt709:sar=2';
    const track = parseH265Sps(spsOf({ params, rate: '60000/1001' }));
    assert.deepEqual([track.width, track.height], [320, 240], 'the display window is a hint, not the decoded size');
    assert.ok(Math.abs((track.frameRate ?? 0) - 60000 / 1001) < 1e-9, `frameRate ${track.frameRate}`);
  });

  it('leaves frameRate undefined without vui timing info', () => {
    assert.equal(parseH265Sps(spsOf({ params: 'vui-timing-info=0' })).frameRate, undefined);
  });

  it('honours left/top conformance cropping and drops an absurd tick rate (hevc_metadata rewrite)', () => {
    const track = parseH265Sps(
      spsOf({ args: ['-bsf:v', 'hevc_metadata=tick_rate=1000/1:crop_left=16:crop_top=8:crop_right=8:crop_bottom=4'] }),
    );
    assert.deepEqual([track.width, track.height, track.frameRate], [320 - 24, 240 - 12, undefined]);
  });
});

describe('parseH265Sps on hand-written parameter sets', () => {
  it('reads a minimal SPS without VUI', () => {
    assert.deepEqual(parseH265Sps(buildSps({})), { kind: 'video', codec: 'h265', width: 1280, height: 720, profile: 'Main@L3.1' });
  });

  it('skips sub-layer profile and level fields when they are present', () => {
    const track = parseH265Sps(
      buildSps({ maxSubLayersMinus1: 3, subLayers: [[true, true], [false, true], [true, false]], subLayerOrderingInfo: false, vui: { timing: [1, 30] } }),
    );
    assert.deepEqual([track.width, track.height, track.frameRate], [1280, 720, 30]);
  });

  it('skips PCM, reference picture sets (predicted ones sized by their non-zero deltas) and long-term pictures', () => {
    const track = parseH265Sps(
      buildSps({
        pcm: true,
        refPicSets: [
          { negative: 2, positive: 1 }, // s0 -1 -3, s1 +3
          { deltaRps: 1, flags: [[true, false], [false, true], [false, false], [true, true]] }, // 0 is dropped: s0 -2, s1 +1
          { deltaRps: -1, flags: [[false, false], [true, false], [false, true]] }, // s0 -1
          { negative: 4, positive: 0 },
        ],
        longTermPics: 3,
        log2MaxPocLsb: 11,
        vui: { timing: [1001, 24000] },
      }),
    );
    assert.ok(Math.abs((track.frameRate ?? 0) - 24000 / 1001) < 1e-9, `frameRate ${track.frameRate}`);
  });

  it('skips explicitly coded and predicted scaling lists', () => {
    const track = parseH265Sps(buildSps({ scalingLists: 'explicit', vui: { timing: [1, 25] } }));
    assert.equal(track.frameRate, 25);
  });

  it('walks SAR, signal type, chroma location, field flags and display window before the timing', () => {
    const vui = { sar: [64, 45], overscan: true, colourDescription: true, chromaLoc: [2, 2], fieldSeq: true, displayWindow: [1, 2, 3, 4], timing: [1, 50] } as const;
    assert.equal(parseH265Sps(buildSps({ vui })).frameRate, 50);
  });

  it('crops separate colour planes in luma units', () => {
    const track = parseH265Sps(buildSps({ chromaFormatIdc: 3, separateColourPlane: true, width: 64, height: 64, confWin: [1, 2, 3, 4] }));
    assert.deepEqual([track.width, track.height], [61, 57]);
  });

  it('returns the track without frameRate when the VUI runs out of bits', () => {
    const whole = buildSps({ vui: { sar: [1, 1], displayWindow: [0, 0, 0, 0], timing: [1, 25] } });
    const track = parseH265Sps(whole.subarray(0, whole.length - 7));
    assert.deepEqual(track, { kind: 'video', codec: 'h265', width: 1280, height: 720, profile: 'Main@L3.1' });
  });

  it('takes the profile from the compatibility flags when profile_idc is 0', () => {
    assert.equal(parseH265Sps(buildSps({ profileIdc: 0, compatibility: 0x20000000, levelIdc: 150 })).profile, 'Main 10@L5');
    assert.equal(parseH265Sps(buildSps({ profileIdc: 30 })).profile, 'Profile 30@L3.1');
  });

  it('rejects an SPS truncated before its VUI with INVALID_MEDIA', () => {
    const sps = buildSps({ refPicSets: [{ negative: 4, positive: 4 }], vui: { timing: [1, 25] } });
    assert.throws(() => parseH265Sps(sps.subarray(0, 24)), invalidMedia(/^invalid H\.265 SPS: bitstream ended early/));
  });

  it('rejects a NAL unit that is not an SPS and out-of-range values', () => {
    assert.throws(() => parseH265Sps(Buffer.from([0x40, 0x01, 0x0c])), invalidMedia(/NAL unit type 32 is not 33/));
    assert.throws(() => parseH265Sps(Buffer.from([0x42])), invalidMedia(/invalid H\.265 SPS/));
    assert.throws(() => parseH265Sps(buildSps({ chromaFormatIdc: 5 })), invalidMedia(/chroma_format_idc 5/));
    assert.throws(() => parseH265Sps(buildSps({ confWin: [400, 400, 0, 0] })), invalidMedia(/picture size/));
  });
});

describe('H.265 NAL type helpers', () => {
  it('classify NAL headers', () => {
    assert.equal(h265NalType(0x40), H265NalType.VPS);
    assert.equal(h265NalType(0x26), H265NalType.IDR_W_RADL);
    assert.equal(h265LayerId(0x40, 0x01), 0);
    assert.equal(h265LayerId(0x41, 0x09), 33);
    assert.ok(isH265Vcl(0) && isH265Vcl(31) && !isH265Vcl(32));
    assert.deepEqual(
      Array.from({ length: 64 }, (_, t) => t).filter(isH265Keyframe),
      [16, 17, 18, 19, 20, 21, 22, 23],
    );
    assert.ok(isH265ParameterSet(32) && isH265ParameterSet(33) && isH265ParameterSet(34) && !isH265ParameterSet(35));
    assert.deepEqual(
      Array.from({ length: 64 }, (_, t) => t).filter(startsH265AccessUnit),
      [32, 33, 34, 35, 39, 41, 42, 43, 44, 48, 49, 50, 51, 52, 53, 54, 55],
    );
  });
});

/** Distinct, non-default matrices so x265 has to code every list explicitly. */
function hmScalingListFile(): string {
  const lines: string[] = [];
  let k = 0;
  for (const [size, count] of [['4X4', 16], ['8X8', 64], ['16X16', 64], ['32X32', 64]] as const) {
    for (const mode of ['INTRA', 'INTER']) {
      for (const component of ['LUMA', 'CHROMAU', 'CHROMAV']) {
        const name = `${mode}${size}_${component}`;
        const values = Array.from({ length: count }, (_, i) => 16 + ((i * 7 + k * 3) % 20));
        lines.push(`${name} =`);
        for (let row = 0; row < count; row += 8) lines.push(`${values.slice(row, row + 8).join(',')},`);
        if (size === '16X16' || size === '32X32') lines.push(`${name}_DC =`, `${17 + k},`);
        k++;
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
