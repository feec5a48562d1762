package simulator

import (
	"encoding/binary"
)

// The simulator's videos are real MP4 files (ISO base media: ftyp, moov, mdat) with one H.264 video track,
// written here without an encoder. The picture is small (the longer side 64 pixels, the requested aspect
// ratio kept by H.264 cropping) and its macroblocks are I_PCM: raw samples, which every H.264 decoder
// must read, so no transform or entropy coding is needed. One frame per second, each an IDR picture: a colour
// gradient whose hue follows the prompt and which moves from frame to frame.

// videoPicture is the coded picture of a video of the requested size: its displayed width and height and
// its size in 16×16 macroblocks.
type videoPicture struct {
	width, height int
	mbW, mbH      int
}

// newVideoPicture scales width×height so that its longer side is 64 pixels (each side even, at least 16).
func newVideoPicture(width, height int) videoPicture {
	if width <= 0 || height <= 0 {
		width, height = 16, 9
	}
	w, h := 64, 64
	if width >= height {
		h = max(16, (64*height/width)&^1)
	} else {
		w = max(16, (64*width/height)&^1)
	}
	return videoPicture{width: w, height: h, mbW: (w + 15) / 16, mbH: (h + 15) / 16}
}

// appendMP4 appends an MP4 of seconds seconds (at least one) of the picture, coloured by seed.
func appendMP4(dst []byte, pic videoPicture, seconds int, seed uint64) []byte {
	seconds = max(seconds, 1)
	sps, pps := pic.sps(), pic.pps()
	samples := make([][]byte, seconds)
	for i := range samples {
		samples[i] = pic.idrSample(i, seed)
	}
	const timescale = 1000
	duration := uint32(seconds * timescale)

	dst = appendBox(dst, "ftyp", func(b []byte) []byte {
		b = append(b, "isom"...)
		b = binary.BigEndian.AppendUint32(b, 0x200)
		return append(b, "isomiso2avc1mp41"...)
	})
	// The chunk offset is known once moov is written: it is patched in afterwards.
	var stcoAt int
	dst = appendBox(dst, "moov", func(b []byte) []byte {
		b = appendFullBox(b, "mvhd", 0, 0, func(b []byte) []byte {
			b = binary.BigEndian.AppendUint32(b, 0) // creation time
			b = binary.BigEndian.AppendUint32(b, 0) // modification time
			b = binary.BigEndian.AppendUint32(b, timescale)
			b = binary.BigEndian.AppendUint32(b, duration)
			b = binary.BigEndian.AppendUint32(b, 0x00010000) // rate 1.0
			b = binary.BigEndian.AppendUint16(b, 0x0100)     // volume 1.0
			b = append(b, make([]byte, 10)...)
			b = appendMatrix(b)
			b = append(b, make([]byte, 24)...)         // pre_defined
			return binary.BigEndian.AppendUint32(b, 2) // next track id
		})
		return appendBox(b, "trak", func(b []byte) []byte {
			b = appendFullBox(b, "tkhd", 0, 3, func(b []byte) []byte { // enabled, in movie
				b = binary.BigEndian.AppendUint32(b, 0)
				b = binary.BigEndian.AppendUint32(b, 0)
				b = binary.BigEndian.AppendUint32(b, 1) // track id
				b = binary.BigEndian.AppendUint32(b, 0)
				b = binary.BigEndian.AppendUint32(b, duration)
				b = append(b, make([]byte, 8)...)
				b = binary.BigEndian.AppendUint16(b, 0) // layer
				b = binary.BigEndian.AppendUint16(b, 0) // alternate group
				b = binary.BigEndian.AppendUint16(b, 0) // volume
				b = binary.BigEndian.AppendUint16(b, 0)
				b = appendMatrix(b)
				b = binary.BigEndian.AppendUint32(b, uint32(pic.width)<<16)
				return binary.BigEndian.AppendUint32(b, uint32(pic.height)<<16)
			})
			return appendBox(b, "mdia", func(b []byte) []byte {
				b = appendFullBox(b, "mdhd", 0, 0, func(b []byte) []byte {
					b = binary.BigEndian.AppendUint32(b, 0)
					b = binary.BigEndian.AppendUint32(b, 0)
					b = binary.BigEndian.AppendUint32(b, timescale)
					b = binary.BigEndian.AppendUint32(b, duration)
					b = binary.BigEndian.AppendUint16(b, 0x55c4) // language "und"
					return binary.BigEndian.AppendUint16(b, 0)
				})
				b = appendFullBox(b, "hdlr", 0, 0, func(b []byte) []byte {
					b = binary.BigEndian.AppendUint32(b, 0)
					b = append(b, "vide"...)
					b = append(b, make([]byte, 12)...)
					return append(b, "VideoHandler\x00"...)
				})
				return appendBox(b, "minf", func(b []byte) []byte {
					b = appendFullBox(b, "vmhd", 0, 1, func(b []byte) []byte { return append(b, make([]byte, 8)...) })
					b = appendBox(b, "dinf", func(b []byte) []byte {
						return appendFullBox(b, "dref", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 1)
							return appendFullBox(b, "url ", 0, 1, func(b []byte) []byte { return b }) // in this file
						})
					})
					return appendBox(b, "stbl", func(b []byte) []byte {
						b = appendFullBox(b, "stsd", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 1)
							return appendBox(b, "avc1", func(b []byte) []byte {
								b = append(b, make([]byte, 6)...)
								b = binary.BigEndian.AppendUint16(b, 1) // data reference index
								b = append(b, make([]byte, 16)...)
								b = binary.BigEndian.AppendUint16(b, uint16(pic.width))
								b = binary.BigEndian.AppendUint16(b, uint16(pic.height))
								b = binary.BigEndian.AppendUint32(b, 0x00480000) // 72 dpi
								b = binary.BigEndian.AppendUint32(b, 0x00480000)
								b = binary.BigEndian.AppendUint32(b, 0)
								b = binary.BigEndian.AppendUint16(b, 1) // frames per sample
								name := make([]byte, 32)
								name[0] = byte(copy(name[1:], "ai_simulator"))
								b = append(b, name...)
								b = binary.BigEndian.AppendUint16(b, 0x0018)
								b = binary.BigEndian.AppendUint16(b, 0xffff)
								return appendBox(b, "avcC", func(b []byte) []byte {
									b = append(b, 1, sps[1], sps[2], sps[3], 0xff, 0xe1)
									b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
									b = append(b, sps...)
									b = append(b, 1)
									b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
									return append(b, pps...)
								})
							})
						})
						b = appendFullBox(b, "stts", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 1)
							b = binary.BigEndian.AppendUint32(b, uint32(seconds))
							return binary.BigEndian.AppendUint32(b, timescale)
						})
						b = appendFullBox(b, "stsc", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 1)
							b = binary.BigEndian.AppendUint32(b, 1) // first chunk
							b = binary.BigEndian.AppendUint32(b, uint32(seconds))
							return binary.BigEndian.AppendUint32(b, 1)
						})
						b = appendFullBox(b, "stsz", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 0)
							b = binary.BigEndian.AppendUint32(b, uint32(seconds))
							for _, s := range samples {
								b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
							}
							return b
						})
						return appendFullBox(b, "stco", 0, 0, func(b []byte) []byte {
							b = binary.BigEndian.AppendUint32(b, 1)
							stcoAt = len(b)
							return binary.BigEndian.AppendUint32(b, 0)
						})
					})
				})
			})
		})
	})
	mdatAt := len(dst)
	dst = appendBox(dst, "mdat", func(b []byte) []byte {
		for _, s := range samples {
			b = append(b, s...)
		}
		return b
	})
	binary.BigEndian.PutUint32(dst[stcoAt:], uint32(mdatAt+8))
	return dst
}

// appendBox appends a box of type typ whose body body appends.
func appendBox(dst []byte, typ string, body func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, typ...)
	dst = body(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// appendFullBox appends a box with a version and flags.
func appendFullBox(dst []byte, typ string, version byte, flags uint32, body func([]byte) []byte) []byte {
	return appendBox(dst, typ, func(b []byte) []byte {
		b = append(b, version, byte(flags>>16), byte(flags>>8), byte(flags))
		return body(b)
	})
}

// appendMatrix appends the identity transformation matrix of mvhd and tkhd.
func appendMatrix(b []byte) []byte {
	for _, v := range [9]uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// H.264 NAL unit headers: nal_ref_idc 3 and the unit type.
const (
	nalIDR = 0x65
	nalSPS = 0x67
	nalPPS = 0x68
)

// sps is the sequence parameter set NAL unit: Baseline profile, level 3.0, picture order count type 2,
// the picture cropped to its displayed size.
func (p videoPicture) sps() []byte {
	var w bitWriter
	w.bits(66, 8) // profile_idc: Baseline
	w.bits(0, 8)  // constraint flags
	w.bits(30, 8) // level_idc
	w.ue(0)       // seq_parameter_set_id
	w.ue(0)       // log2_max_frame_num_minus4
	w.ue(2)       // pic_order_cnt_type
	w.ue(1)       // max_num_ref_frames
	w.bits(0, 1)  // gaps_in_frame_num_value_allowed_flag
	w.ue(uint(p.mbW - 1))
	w.ue(uint(p.mbH - 1))
	w.bits(1, 1) // frame_mbs_only_flag
	w.bits(1, 1) // direct_8x8_inference_flag
	right, bottom := p.mbW*16-p.width, p.mbH*16-p.height
	if right > 0 || bottom > 0 {
		w.bits(1, 1) // frame_cropping_flag, offsets in 2-pixel units for 4:2:0
		w.ue(0)
		w.ue(uint(right / 2))
		w.ue(0)
		w.ue(uint(bottom / 2))
	} else {
		w.bits(0, 1)
	}
	w.bits(0, 1) // vui_parameters_present_flag
	w.trailing()
	return nalUnit(nalSPS, w.b)
}

// pps is the picture parameter set NAL unit: CAVLC, one slice group, no deblocking control.
func (p videoPicture) pps() []byte {
	var w bitWriter
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bits(0, 1) // entropy_coding_mode_flag: CAVLC
	w.bits(0, 1) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bits(0, 1) // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.se(0)      // pic_init_qp_minus26
	w.se(0)      // pic_init_qs_minus26
	w.se(0)      // chroma_qp_index_offset
	w.bits(0, 1) // deblocking_filter_control_present_flag
	w.bits(0, 1) // constrained_intra_pred_flag
	w.bits(0, 1) // redundant_pic_cnt_present_flag
	w.trailing()
	return nalUnit(nalPPS, w.b)
}

// idrSample is frame i as an MP4 sample: one IDR slice NAL unit of I_PCM macroblocks, length-prefixed.
func (p videoPicture) idrSample(i int, seed uint64) []byte {
	var w bitWriter
	w.ue(0)           // first_mb_in_slice
	w.ue(7)           // slice_type: I, every slice of the picture
	w.ue(0)           // pic_parameter_set_id
	w.bits(0, 4)      // frame_num
	w.ue(uint(i % 2)) // idr_pic_id: consecutive IDR pictures differ
	w.bits(0, 1)      // no_output_of_prior_pics_flag
	w.bits(0, 1)      // long_term_reference_flag
	w.se(0)           // slice_qp_delta
	cb, cr := byte(64+seed%128), byte(64+(seed>>8)%128)
	for my := 0; my < p.mbH; my++ {
		for mx := 0; mx < p.mbW; mx++ {
			w.ue(25) // mb_type I_PCM
			w.align()
			for y := 0; y < 16; y++ {
				for x := 0; x < 16; x++ {
					w.b = append(w.b, byte(32+((mx*16+x)*2+(my*16+y)+i*24)%192))
				}
			}
			for range 64 {
				w.b = append(w.b, cb)
			}
			for range 64 {
				w.b = append(w.b, cr)
			}
		}
	}
	w.trailing()
	nal := nalUnit(nalIDR, w.b)
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(nal)), uint32(len(nal))), nal...)
}

// nalUnit returns the NAL unit of header byte header and payload rbsp, with emulation prevention bytes
// inserted so that no start code appears inside it.
func nalUnit(header byte, rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+len(rbsp)/64+1)
	out = append(out, header)
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// bitWriter writes an H.264 RBSP most significant bit first.
type bitWriter struct {
	b    []byte
	used uint8 // bits used in the last byte; 0 when it is full or there is none
}

func (w *bitWriter) bit(v uint) {
	if w.used == 0 {
		w.b = append(w.b, 0)
	}
	if v != 0 {
		w.b[len(w.b)-1] |= 0x80 >> w.used
	}
	w.used = (w.used + 1) % 8
}

// bits writes the n low bits of v.
func (w *bitWriter) bits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(uint(v>>i) & 1)
	}
}

// ue writes v as an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(x, n+1)
}

// se writes v as a signed Exp-Golomb code.
func (w *bitWriter) se(v int) {
	if v > 0 {
		w.ue(uint(2*v - 1))
	} else {
		w.ue(uint(-2 * v))
	}
}

// align writes zero bits up to the next byte boundary.
func (w *bitWriter) align() { w.used = 0 }

// trailing writes the RBSP stop bit and aligns.
func (w *bitWriter) trailing() {
	w.bit(1)
	w.align()
}
