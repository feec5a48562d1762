package gateway

import "net/http/httptest"

type recorder = httptest.ResponseRecorder

func newRecorder() *recorder { return httptest.NewRecorder() }
