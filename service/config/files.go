package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// readSmallFile reads a regular file of at most limit bytes; devices,
// pipes and huge files are refused rather than read forever. Its errors
// name the file.
func readSmallFile(path string, limit int64) ([]byte, error) {
	data, err := readRegular(path, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return data, nil
}

// readRegular is readSmallFile with errors that do not repeat the path. It
// opens without blocking: opening a named pipe for reading would otherwise
// wait for a writer, hanging a start or a reload.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fileError(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fileError(err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", describeMode(info.Mode()))
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%d bytes, larger than the %d allowed", info.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fileError(err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than the %d bytes allowed", limit)
	}
	return data, nil
}

// fileError drops the path that os errors repeat (the caller names the
// file).
func fileError(err error) error { return errors.New(describeFileError(err)) }

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	}
	return m.Type().String()
}
