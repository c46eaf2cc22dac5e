// H.265 NAL unit types and the sequence parameter set (ITU-T H.265 7.3.2.2, E.2.1). HEVC puts
// the VUI behind a variable-length tail (sub-layer info, scaling lists, reference picture sets),
// so all of it is walked exactly to reach the timing info.

import { PushgateError } from '../core/errors';
import type { VideoTrack } from '../core/media';
import { BitReader, unescapeRbsp } from './bit-reader';
import { plausibleFrameRate } from './h264';

export const H265NalType = {
  /** IRAP pictures are types 16..23: BLA 16..18, IDR 19..20, CRA 21, reserved IRAP 22..23. */
  BLA_W_LP: 16,
  IDR_W_RADL: 19,
  IDR_N_LP: 20,
  CRA: 21,
  VPS: 32,
  SPS: 33,
  PPS: 34,
  AUD: 35,
  END_OF_SEQUENCE: 36,
  END_OF_BITSTREAM: 37,
  FILLER: 38,
  PREFIX_SEI: 39,
  SUFFIX_SEI: 40,
} as const;

/** nal_unit_type from the first byte of the 2-byte NAL unit header. */
export function h265NalType(header0: number): number {
  return (header0 >> 1) & 0x3f;
}

/** nuh_layer_id from both header bytes: non-zero only in multi-layer (scalable, 3D) streams. */
export function h265LayerId(header0: number, header1: number): number {
  return ((header0 & 1) << 5) | (header1 >> 3);
}

export function isH265Vcl(type: number): boolean {
  return type >= 0 && type <= 31;
}

export function isH265Keyframe(type: number): boolean {
  return type >= 16 && type <= 23;
}

export function isH265ParameterSet(type: number): boolean {
  return type === H265NalType.VPS || type === H265NalType.SPS || type === H265NalType.PPS;
}

/**
 * Non-VCL types that, after a picture's slices, open the next access unit (7.4.2.4.4):
 * VPS, SPS, PPS, AUD, prefix SEI, 41..44 and 48..55.
 */
export function startsH265AccessUnit(type: number): boolean {
  return (
    (type >= H265NalType.VPS && type <= H265NalType.AUD) ||
    type === H265NalType.PREFIX_SEI ||
    (type >= 41 && type <= 44) ||
    (type >= 48 && type <= 55)
  );
}

const PROFILE_NAMES: Readonly<Record<number, string>> = {
  1: 'Main',
  2: 'Main 10',
  3: 'Main Still Picture',
  4: 'Rext',
  5: 'High Throughput',
  6: 'Multiview Main',
  7: 'Scalable Main',
  8: '3D Main',
  9: 'Screen Extended',
  10: 'Scalable Rext',
  11: 'High Throughput Screen Extended',
};

/**
 * Parses one SPS NAL unit (starting at its 2-byte header, no start code).
 * Throws INVALID_MEDIA when it is not an SPS or is truncated before the VUI; a VUI that ends
 * early (or that uses syntax this parser does not follow) only costs the frame rate.
 */
export function parseH265Sps(nal: Uint8Array): VideoTrack {
  if (nal.length < 2) throw new PushgateError('INVALID_MEDIA', 'invalid H.265 SPS: NAL unit shorter than its header');
  const type = h265NalType(nal[0] as number);
  if (type !== H265NalType.SPS) throw new PushgateError('INVALID_MEDIA', `invalid H.265 SPS: NAL unit type ${type} is not 33`);
  try {
    return parseSpsRbsp(new BitReader(unescapeRbsp(nal.subarray(2))));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PushgateError('INVALID_MEDIA', `invalid H.265 SPS: ${reason}`, { cause: err });
  }
}

function parseSpsRbsp(r: BitReader): VideoTrack {
  r.skipBits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.readBits(3);
  if (maxSubLayersMinus1 > 6) throw new Error(`sps_max_sub_layers_minus1 ${maxSubLayersMinus1} out of range`);
  r.skipBits(1); // sps_temporal_id_nesting_flag
  const profile = readProfileTierLevel(r, maxSubLayersMinus1);
  r.readUE(); // sps_seq_parameter_set_id

  const chromaFormatIdc = r.readUE();
  if (chromaFormatIdc > 3) throw new Error(`chroma_format_idc ${chromaFormatIdc} out of range`);
  const separateColourPlane = chromaFormatIdc === 3 ? r.readFlag() : false;
  let width = r.readUE(); // pic_width_in_luma_samples
  let height = r.readUE(); // pic_height_in_luma_samples
  if (r.readFlag()) {
    // conformance_window_flag: offsets count in chroma samples (7-7..7-10, table 6-1).
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const left = r.readUE();
    const right = r.readUE();
    const top = r.readUE();
    const bottom = r.readUE();
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
  }
  if (width <= 0 || height <= 0) throw new Error(`picture size ${width}x${height}`);

  const base = { kind: 'video', codec: 'h265', width, height, profile } as const;
  const frameRate = readFrameRate(r, maxSubLayersMinus1);
  return frameRate === undefined ? base : { ...base, frameRate };
}

/** profile_tier_level(1, maxSubLayersMinus1) (7.3.3): returns e.g. "Main@L4.1". */
function readProfileTierLevel(r: BitReader, maxSubLayersMinus1: number): string {
  r.skipBits(2); // general_profile_space
  const highTier = r.readFlag();
  const profileIdc = r.readBits(5);
  const compatibility = r.readBits(32);
  // progressive, interlaced, non_packed, frame_only + 43 constraint bits + 1 = 48 bits.
  r.skipBits(48);
  const levelIdc = r.readBits(8);

  const subLayerProfilePresent: boolean[] = [];
  const subLayerLevelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subLayerProfilePresent.push(r.readFlag());
    subLayerLevelPresent.push(r.readFlag());
  }
  if (maxSubLayersMinus1 > 0) r.skipBits(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subLayerProfilePresent[i]) r.skipBits(88); // same 88 bits as the general profile
    if (subLayerLevelPresent[i]) r.skipBits(8);
  }

  // Old encoders leave profile_idc 0 and only set the compatibility flag of their profile.
  let idc = profileIdc;
  if (idc === 0) {
    for (let j = 1; j < 32; j++) {
      if ((compatibility >>> (31 - j)) & 1) {
        idc = j;
        break;
      }
    }
  }
  const name = PROFILE_NAMES[idc] ?? `Profile ${idc}`;
  const level = `L${Number((levelIdc / 30).toFixed(1))}`;
  return highTier ? `${name}@${level}@High` : `${name}@${level}`;
}

/** The SPS from after the conformance window through the VUI timing info. */
function readFrameRate(r: BitReader, maxSubLayersMinus1: number): number | undefined {
  r.readUE(); // bit_depth_luma_minus8
  r.readUE(); // bit_depth_chroma_minus8
  const log2MaxPocLsb = r.readUE() + 4;
  if (log2MaxPocLsb > 16) throw new Error(`log2_max_pic_order_cnt_lsb ${log2MaxPocLsb} out of range`);
  const subLayerOrderingInfo = r.readFlag();
  for (let i = subLayerOrderingInfo ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    r.readUE(); // sps_max_dec_pic_buffering_minus1
    r.readUE(); // sps_max_num_reorder_pics
    r.readUE(); // sps_max_latency_increase_plus1
  }
  r.readUE(); // log2_min_luma_coding_block_size_minus3
  r.readUE(); // log2_diff_max_min_luma_coding_block_size
  r.readUE(); // log2_min_luma_transform_block_size_minus2
  r.readUE(); // log2_diff_max_min_luma_transform_block_size
  r.readUE(); // max_transform_hierarchy_depth_inter
  r.readUE(); // max_transform_hierarchy_depth_intra
  if (r.readFlag() && r.readFlag()) skipScalingListData(r); // scaling_list_enabled, sps_scaling_list_data_present
  r.skipBits(2); // amp_enabled_flag, sample_adaptive_offset_enabled_flag
  if (r.readFlag()) {
    // pcm_enabled_flag: two 4-bit sample depths, two block sizes, loop filter flag.
    r.skipBits(8);
    r.readUE();
    r.readUE();
    r.skipBits(1);
  }
  skipShortTermRefPicSets(r);
  if (r.readFlag()) {
    // long_term_ref_pics_present_flag
    const count = r.readUE();
    if (count > 32) throw new Error(`num_long_term_ref_pics_sps ${count} out of range`);
    for (let i = 0; i < count; i++) r.skipBits(log2MaxPocLsb + 1); // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
  }
  r.skipBits(2); // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
  if (!r.readFlag()) return undefined; // vui_parameters_present_flag
  try {
    return readVuiFrameRate(r);
  } catch (err) {
    if (err instanceof PushgateError) return undefined;
    throw err;
  }
}

/** scaling_list_data() (7.3.4): only the explicitly coded lists carry bits. */
function skipScalingListData(r: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!r.readFlag()) {
        r.readUE(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefficients = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) r.readSE(); // scaling_list_dc_coef_minus8
      for (let i = 0; i < coefficients; i++) r.readSE(); // scaling_list_delta_coef
    }
  }
}

/** DeltaPocS0 (negative, nearest first) and DeltaPocS1 (positive, nearest first) of one set. */
interface RefPicSet {
  readonly s0: readonly number[];
  readonly s1: readonly number[];
}

/**
 * num_short_term_ref_pic_sets and each st_ref_pic_set() (7.3.7). A predicted set's size is the
 * number of flagged deltas that stay non-zero (7-61, 7-62), so the POC deltas themselves are
 * tracked, not just counts: the next set may be predicted from this one.
 */
function skipShortTermRefPicSets(r: BitReader): void {
  const count = r.readUE();
  if (count > 64) throw new Error(`num_short_term_ref_pic_sets ${count} out of range`);
  let previous: RefPicSet | undefined;
  for (let idx = 0; idx < count; idx++) {
    const predicted = idx !== 0 && r.readFlag(); // inter_ref_pic_set_prediction_flag
    // In the SPS a predicted set always refers to the set just before it.
    previous = predicted && previous ? readPredictedRefPicSet(r, previous) : readExplicitRefPicSet(r);
  }
}

function readExplicitRefPicSet(r: BitReader): RefPicSet {
  const negative = r.readUE();
  const positive = r.readUE();
  if (negative > 16 || positive > 16) throw new Error(`short-term reference picture set with ${negative}+${positive} pictures`);
  const s0: number[] = [];
  const s1: number[] = [];
  for (let i = 0, poc = 0; i < negative; i++) {
    poc -= r.readUE() + 1; // delta_poc_s0_minus1
    r.skipBits(1); // used_by_curr_pic_s0_flag
    s0.push(poc);
  }
  for (let i = 0, poc = 0; i < positive; i++) {
    poc += r.readUE() + 1; // delta_poc_s1_minus1
    r.skipBits(1); // used_by_curr_pic_s1_flag
    s1.push(poc);
  }
  return { s0, s1 };
}

function readPredictedRefPicSet(r: BitReader, ref: RefPicSet): RefPicSet {
  const sign = r.readBit(); // delta_rps_sign
  const deltaRps = (1 - 2 * sign) * (r.readUE() + 1); // abs_delta_rps_minus1
  const refCount = ref.s0.length + ref.s1.length;
  // Index j < s0.length: ref.s0[j]; then ref.s1; the last one (j = refCount) is deltaRps itself.
  const useDelta: boolean[] = [];
  for (let j = 0; j <= refCount; j++) {
    const usedByCurrPic = r.readFlag();
    useDelta.push(usedByCurrPic || r.readFlag()); // use_delta_flag, inferred 1 when used
  }
  const s0: number[] = [];
  const s1: number[] = [];
  const n0 = ref.s0.length;
  for (let j = ref.s1.length - 1; j >= 0; j--) {
    const poc = (ref.s1[j] as number) + deltaRps;
    if (poc < 0 && useDelta[n0 + j]) s0.push(poc);
  }
  if (deltaRps < 0 && useDelta[refCount]) s0.push(deltaRps);
  for (let j = 0; j < n0; j++) {
    const poc = (ref.s0[j] as number) + deltaRps;
    if (poc < 0 && useDelta[j]) s0.push(poc);
  }
  for (let j = n0 - 1; j >= 0; j--) {
    const poc = (ref.s0[j] as number) + deltaRps;
    if (poc > 0 && useDelta[j]) s1.push(poc);
  }
  if (deltaRps > 0 && useDelta[refCount]) s1.push(deltaRps);
  for (let j = 0; j < ref.s1.length; j++) {
    const poc = (ref.s1[j] as number) + deltaRps;
    if (poc > 0 && useDelta[n0 + j]) s1.push(poc);
  }
  if (s0.length > 16 || s1.length > 16) throw new Error(`short-term reference picture set with ${s0.length}+${s1.length} pictures`);
  return { s0, s1 };
}

/** vui_parameters() up to vui_timing_info (E.2.1). */
function readVuiFrameRate(r: BitReader): number | undefined {
  if (r.readFlag()) {
    // aspect_ratio_info_present_flag; 255 is EXTENDED_SAR with explicit width and height.
    if (r.readBits(8) === 255) r.skipBits(32);
  }
  if (r.readFlag()) r.skipBits(1); // overscan_info_present_flag -> overscan_appropriate_flag
  if (r.readFlag()) {
    // video_signal_type_present_flag: video_format(3) full_range(1) colour_description_present(1)
    r.skipBits(4);
    if (r.readFlag()) r.skipBits(24);
  }
  if (r.readFlag()) {
    r.readUE(); // chroma_sample_loc_type_top_field
    r.readUE(); // chroma_sample_loc_type_bottom_field
  }
  r.skipBits(3); // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
  if (r.readFlag()) {
    // default_display_window_flag: a display hint, not the decoded size, so only skipped.
    r.readUE();
    r.readUE();
    r.readUE();
    r.readUE();
  }
  if (!r.readFlag()) return undefined; // vui_timing_info_present_flag
  const numUnitsInTick = r.readBits(32);
  const timeScale = r.readBits(32);
  // Unlike H.264, an HEVC tick is a whole picture (E.3.1).
  return plausibleFrameRate(timeScale / numUnitsInTick);
}
