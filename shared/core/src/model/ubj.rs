//! Minimal UBJSON reader for what xgboost's `save_model("*.ubj")` writes (big-endian numbers,
//! optimized `$type#count` containers), decoded into a `serde_json::Value` so both formats share
//! one model builder. `f32` payloads widen to `f64` losslessly and narrow back exactly.

use serde_json::{Map, Number, Value};

use super::xgboost::ModelError;

/// Nesting limit, so a hostile file cannot overflow the stack.
const MAX_NESTING: usize = 128;

pub(super) fn parse(bytes: &[u8]) -> Result<Value, ModelError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    if reader.pos != bytes.len() {
        return Err(reader.error("trailing bytes after the top-level value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> ModelError {
        ModelError::Ubj { offset: self.pos, message: message.into() }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.error("unexpected end of input"))?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn take_slice(&mut self, len: usize) -> Result<&[u8], ModelError> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.error("unexpected end of input"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Next type marker, skipping `N` (no-op) padding.
    fn marker(&mut self) -> Result<u8, ModelError> {
        loop {
            let [m] = self.take::<1>()?;
            if m != b'N' {
                return Ok(m);
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ModelError> {
        let marker = self.marker()?;
        self.value_of(marker, depth)
    }

    fn int_of(&mut self, marker: u8) -> Result<i64, ModelError> {
        Ok(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.take()?)),
            b'U' => i64::from(u8::from_be_bytes(self.take()?)),
            b'I' => i64::from(i16::from_be_bytes(self.take()?)),
            b'l' => i64::from(i32::from_be_bytes(self.take()?)),
            b'L' => i64::from_be_bytes(self.take()?),
            _ => {
                return Err(self.error(format!("expected an integer, found marker {marker:#04x}")));
            }
        })
    }

    /// A length/count: an integer marker plus a non-negative value.
    fn length(&mut self) -> Result<usize, ModelError> {
        let marker = self.marker()?;
        let n = self.int_of(marker)?;
        usize::try_from(n).map_err(|_| self.error(format!("negative length {n}")))
    }

    fn string(&mut self) -> Result<String, ModelError> {
        let len = self.length()?;
        let bytes = self.take_slice(len)?.to_vec();
        String::from_utf8(bytes).map_err(|_| self.error("string is not UTF-8"))
    }

    fn value_of(&mut self, marker: u8, depth: usize) -> Result<Value, ModelError> {
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::from(self.int_of(marker)?),
            b'd' => {
                let x = f32::from_be_bytes(self.take()?);
                self.float(f64::from(x))?
            }
            b'D' => {
                let x = f64::from_be_bytes(self.take()?);
                self.float(x)?
            }
            b'C' => Value::String(char::from(self.take::<1>()?[0]).to_string()),
            b'S' => Value::String(self.string()?),
            b'H' => {
                let text = self.string()?;
                serde_json::from_str::<Number>(&text)
                    .map(Value::Number)
                    .map_err(|_| self.error("invalid high-precision number"))?
            }
            b'[' => self.array(depth + 1)?,
            b'{' => self.object(depth + 1)?,
            _ => return Err(self.error(format!("unknown type marker {marker:#04x}"))),
        })
    }

    fn float(&self, x: f64) -> Result<Value, ModelError> {
        Number::from_f64(x).map(Value::Number).ok_or_else(|| self.error("non-finite float"))
    }

    /// Optional `$type` and `#count` after `[` or `{`.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), ModelError> {
        let mut ty = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            let [t] = self.take::<1>()?;
            // Payload-free element types would let a hostile count spin without consuming
            // input; xgboost never writes them.
            if matches!(t, b'Z' | b'T' | b'F' | b'N') {
                return Err(self.error("typed container of payload-free elements"));
            }
            ty = Some(t);
            if self.peek() != Some(b'#') {
                return Err(self.error("typed container without a count"));
            }
        }
        let mut count = None;
        if self.peek() == Some(b'#') {
            self.pos += 1;
            count = Some(self.length()?);
        }
        Ok((ty, count))
    }

    fn element(&mut self, ty: Option<u8>, depth: usize) -> Result<Value, ModelError> {
        match ty {
            Some(t) => self.value_of(t, depth),
            None => self.value(depth),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ModelError> {
        if depth > MAX_NESTING {
            return Err(self.error("nesting too deep"));
        }
        let (ty, count) = self.container_header()?;
        let mut items = Vec::new();
        match count {
            Some(count) => {
                // Every element takes at least one byte, which bounds preallocation for a
                // hostile count.
                items.reserve(count.min(self.bytes.len() - self.pos));
                for _ in 0..count {
                    items.push(self.element(ty, depth)?);
                }
            }
            None => loop {
                match self.peek() {
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => items.push(self.value(depth)?),
                    None => return Err(self.error("unterminated array")),
                }
            },
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, ModelError> {
        if depth > MAX_NESTING {
            return Err(self.error("nesting too deep"));
        }
        let (ty, count) = self.container_header()?;
        let mut map = Map::new();
        match count {
            Some(count) => {
                for _ in 0..count {
                    let key = self.string()?;
                    let value = self.element(ty, depth)?;
                    map.insert(key, value);
                }
            }
            None => loop {
                match self.peek() {
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => {
                        let key = self.string()?;
                        let value = self.value(depth)?;
                        map.insert(key, value);
                    }
                    None => return Err(self.error("unterminated object")),
                }
            },
        }
        Ok(Value::Object(map))
    }
}
