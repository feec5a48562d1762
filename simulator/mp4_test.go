package simulator

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// box is one parsed ISO base media box: its type and body.
type box struct {
	typ  string
	body []byte
	off  int // offset of the body in the file
}

// parseBoxes splits b (at file offset base) into boxes, failing on a size that does not fit.
func parseBoxes(t *testing.T, b []byte, base int) []box {
	t.Helper()
	var out []box
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("%d trailing bytes at %d", len(b)-off, base+off)
		}
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("box %q at %d has size %d, %d bytes left", b[off+4:off+8], base+off, size, len(b)-off)
		}
		out = append(out, box{typ: string(b[off+4 : off+8]), body: b[off+8 : off+size], off: base + off + 8})
		off += size
	}
	return out
}

// child finds the box at path ("moov/trak/tkhd") below boxes; full boxes skip their version and flags,
// sample entries their fixed fields, as given by skip.
func child(t *testing.T, boxes []box, path string) box {
	t.Helper()
	skip := map[string]int{"stsd": 8, "dref": 8, "avc1": 78}
	names := strings.Split(path, "/")
	for i, name := range names {
		found := false
		for _, bx := range boxes {
			if bx.typ == name {
				if i == len(names)-1 {
					return bx
				}
				n := skip[name]
				boxes = parseBoxes(t, bx.body[n:], bx.off+n)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("no box %s in %s", name, path)
		}
	}
	return box{}
}

// bitReader reads an H.264 RBSP, for checking the parameter sets.
type bitReader struct {
	b   []byte
	pos int
}

func (r *bitReader) bit() uint {
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v
}

func (r *bitReader) bits(n int) uint {
	var v uint
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

func (r *bitReader) ue() uint {
	zeros := 0
	for r.bit() == 0 {
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

// unescape removes emulation prevention bytes.
func unescape(nal []byte) []byte {
	var out []byte
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
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

// spsSize decodes the displayed width and height from a sequence parameter set NAL unit.
func spsSize(t *testing.T, sps []byte) (int, int) {
	t.Helper()
	if sps[0]&0x1f != 7 || sps[1] != 66 {
		t.Fatalf("not a Baseline SPS: % x", sps[:4])
	}
	r := &bitReader{b: unescape(sps[4:])}
	r.ue()           // sps id
	r.ue()           // log2_max_frame_num_minus4
	if r.ue() != 2 { // poc type
		t.Fatal("pic_order_cnt_type is not 2")
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps
	w := int(r.ue()+1) * 16
	h := int(r.ue()+1) * 16
	if r.bit() != 1 {
		t.Fatal("not frame_mbs_only")
	}
	r.bit()
	if r.bit() == 1 {
		left, right, top, bottom := r.ue(), r.ue(), r.ue(), r.ue()
		w -= int(left+right) * 2
		h -= int(top+bottom) * 2
	}
	return w, h
}

func TestMP4Structure(t *testing.T) {
	for _, c := range []struct {
		size      [2]int
		seconds   int
		wantW     int
		wantH     int
		wantCoded int // macroblocks per picture
	}{
		{[2]int{1280, 720}, 4, 64, 36, 12},
		{[2]int{720, 1280}, 8, 36, 64, 12},
		{[2]int{1024, 1792}, 1, 36, 64, 12},
		{[2]int{1000, 1000}, 2, 64, 64, 16},
	} {
		pic := newVideoPicture(c.size[0], c.size[1])
		file := appendMP4(nil, pic, c.seconds, 42)
		top := parseBoxes(t, file, 0)
		if len(top) != 3 || top[0].typ != "ftyp" || top[1].typ != "moov" || top[2].typ != "mdat" {
			t.Fatalf("top-level boxes %v", top)
		}
		if string(top[0].body[:4]) != "isom" {
			t.Errorf("major brand %q", top[0].body[:4])
		}
		mvhd := child(t, top, "moov/mvhd").body
		if ts, dur := binary.BigEndian.Uint32(mvhd[12:]), binary.BigEndian.Uint32(mvhd[16:]); dur != uint32(c.seconds)*ts {
			t.Errorf("%v: movie lasts %d/%d, want %d s", c.size, dur, ts, c.seconds)
		}
		tkhd := child(t, top, "moov/trak/tkhd").body
		if w, h := binary.BigEndian.Uint32(tkhd[76:])>>16, binary.BigEndian.Uint32(tkhd[80:])>>16; int(w) != c.wantW || int(h) != c.wantH {
			t.Errorf("%v: track is %dx%d, want %dx%d", c.size, w, h, c.wantW, c.wantH)
		}
		if hdlr := child(t, top, "moov/trak/mdia/hdlr").body; string(hdlr[8:12]) != "vide" {
			t.Errorf("handler %q", hdlr[8:12])
		}
		avcC := child(t, top, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC").body
		if avcC[0] != 1 || avcC[4]&3 != 3 || avcC[5]&0x1f != 1 {
			t.Fatalf("avcC header % x", avcC[:6])
		}
		spsLen := int(binary.BigEndian.Uint16(avcC[6:]))
		if w, h := spsSize(t, avcC[8:8+spsLen]); w != c.wantW || h != c.wantH {
			t.Errorf("%v: the SPS codes %dx%d, want %dx%d", c.size, w, h, c.wantW, c.wantH)
		}
		stsz := child(t, top, "moov/trak/mdia/minf/stbl/stsz").body
		if n := binary.BigEndian.Uint32(stsz[8:]); int(n) != c.seconds {
			t.Fatalf("%d samples, want one per second (%d)", n, c.seconds)
		}
		stco := child(t, top, "moov/trak/mdia/minf/stbl/stco").body
		off := int(binary.BigEndian.Uint32(stco[8:]))
		if off != top[2].off {
			t.Fatalf("chunk offset %d, mdat's data starts at %d", off, top[2].off)
		}
		total := 0
		for i := range c.seconds {
			size := int(binary.BigEndian.Uint32(stsz[12+4*i:]))
			sample := file[off : off+size]
			nalLen := int(binary.BigEndian.Uint32(sample))
			if nalLen != size-4 || sample[4]&0x1f != 5 {
				t.Fatalf("sample %d: NAL length %d of %d bytes, type %d (want one IDR slice)", i, nalLen, size, sample[4]&0x1f)
			}
			// each macroblock is a mb_type code and 384 raw samples
			if min := c.wantCoded * 384; nalLen < min {
				t.Errorf("sample %d has %d bytes, less than %d macroblocks of raw samples", i, nalLen, c.wantCoded)
			}
			off += size
			total += size
		}
		if total != len(top[2].body) {
			t.Errorf("samples cover %d of mdat's %d bytes", total, len(top[2].body))
		}
	}
}

// TestMP4Decodes decodes a video with ffmpeg when it is installed (it is not needed otherwise).
func TestMP4Decodes(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed")
	}
	path := filepath.Join(t.TempDir(), "v.mp4")
	if err := os.WriteFile(path, appendMP4(nil, newVideoPicture(1280, 720), 3, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "framemd5", "-").CombinedOutput()
	if err != nil || strings.Count(string(out), "\n0,") != 3 {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}
