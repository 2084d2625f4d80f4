package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// errorBody is the JSON form of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// statusOf maps a vpn error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case vpn.EINVALID:
		return http.StatusBadRequest
	case vpn.ENOTFOUND:
		return http.StatusNotFound
	case vpn.ECONFLICT:
		return http.StatusConflict
	case vpn.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default: // ECONFIG, EINTERNAL
		return http.StatusInternalServerError
	}
}

// fail answers with the status and message of a service error. Only
// internal errors are logged: the others are the caller's to fix.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := vpn.ErrorCode(err)
	if code == vpn.EINTERNAL {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var field string
	if e, ok := errors.AsType[*vpn.Error](err); ok {
		field = e.Field
	}
	writeError(w, statusOf(code), vpn.ErrorMessage(err), field)
}

// writeError answers with a JSON error.
func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, errorBody{Error: msg, Field: field})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values of this package's own types reach here.
		http.Error(w, `{"error":"internal error: encoding the answer failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decode reads a JSON request body into v. It refuses unknown fields,
// trailing data, text that is not UTF-8 (encoding/json would silently turn
// it into U+FFFD, while the CLI refuses it) and bodies over maxBody; on
// failure it has already answered and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	status, msg, field := http.StatusBadRequest, "", ""
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is larger than %d KiB.", maxBody>>10), "")
		return false
	case err != nil:
		writeError(w, status, "The request could not be read.", "")
		return false
	case !utf8.Valid(body):
		writeError(w, status, "The request contains text that is not valid UTF-8.", "")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var (
		typeErr *json.UnmarshalTypeError
		synErr  *json.SyntaxError
	)
	switch {
	case errors.Is(err, io.EOF):
		msg = "The request has no JSON body."
	case errors.As(err, &typeErr) && typeErr.Field == "":
		msg = "The request body must be a JSON object."
	case errors.As(err, &typeErr):
		field = typeErr.Field
		msg = fmt.Sprintf("%s must be a JSON %s.", field, jsonKind(typeErr.Type.Kind()))
	case errors.As(err, &synErr), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "The request is not valid JSON."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg = fmt.Sprintf("The field %q is not known here.", field)
	default:
		msg = "The request is not a valid JSON object: " + err.Error()
	}
	writeError(w, status, msg, field)
	return false
}

// jsonKind names a Go kind the way JSON does.
func jsonKind(kind reflect.Kind) string {
	switch kind {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value of another kind"
}
