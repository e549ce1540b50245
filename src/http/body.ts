import { PayloadTooLargeError, ValidationError } from '../domain/errors.js'
import { HttpProblem } from './problem.js'

export interface BodyLimits {
  /** Bytes of the request body, counted as it streams in. */
  readonly maxBodyBytes: number
  /** Nesting of arrays and objects in the parsed body. */
  readonly maxDepth: number
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i

/** `application/json` or `application/<x>+json`, with no charset or `charset=utf-8`. */
function isJsonContentType(value: string): boolean {
  const [type = '', ...params] = value.split(';').map((p) => p.trim())
  if (!JSON_TYPE.test(type)) return false
  return params.every((p) => {
    const [k = '', v = ''] = p.split('=').map((x) => x.trim().toLowerCase())
    return k !== 'charset' || v === 'utf-8' || v === '"utf-8"' || v === 'utf8'
  })
}

const unsupported = (ct: string) =>
  new HttpProblem('UNSUPPORTED_MEDIA_TYPE', `expected application/json (UTF-8), got ${ct.slice(0, 100)}`)

/**
 * Reads at most `max` bytes. The Content-Length header is a hint that lets a large body be
 * refused unread; the count taken while streaming is what holds, since a chunked body has
 * no length and a lying one is cut off at the cap.
 */
async function readCapped(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > max) {
    throw new PayloadTooLargeError('(body)', Number(declared), max)
  }
  if (request.body === null) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > max) {
      await reader.cancel().catch(() => undefined)
      throw new PayloadTooLargeError('(body)', total, max)
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

/**
 * Deepest nesting of arrays and objects, walked without recursion: JSON.parse accepts
 * nesting the recursive zod walk and JSON.stringify of the domain would overflow the stack on
 * (a 512 KiB body of `[` is 524,288 levels).
 */
function exceedsDepth(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The body of a POST or PUT as a JSON object. An empty body is `{}`; anything else must be
 * JSON (415), within the byte cap (413), valid UTF-8 and JSON (400), no deeper than the
 * depth cap (400) and an object (400).
 */
export async function readJsonObject(request: Request, limits: BodyLimits): Promise<Record<string, unknown>> {
  const contentType = request.headers.get('content-type')
  if (contentType !== null && !isJsonContentType(contentType)) throw unsupported(contentType)
  const bytes = await readCapped(request, limits.maxBodyBytes)
  if (bytes.byteLength === 0) return {}
  if (contentType === null) throw unsupported('no content type')
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    throw ValidationError.single('(body)', 'invalid_utf8', 'body is not valid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw ValidationError.single('(body)', 'malformed_json', 'body is not valid JSON')
  }
  if (exceedsDepth(value, limits.maxDepth)) {
    throw ValidationError.single('(body)', 'too_deep', `body nests deeper than ${limits.maxDepth} levels`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw ValidationError.single('(body)', 'invalid_type', 'body must be a JSON object')
  }
  return value as Record<string, unknown>
}

/**
 * The body of a `raw` route as text, exactly as sent: of the route's media type (415
 * otherwise), within its byte cap (413), valid UTF-8 (400).
 */
export async function readRawText(
  request: Request,
  spec: { readonly mediaType: string; readonly maxBytes: number } | undefined,
): Promise<string> {
  const contentType = request.headers.get('content-type')
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (spec && type !== spec.mediaType) {
    throw new HttpProblem(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected ${spec.mediaType}, got ${(contentType ?? 'no content type').slice(0, 100)}`,
    )
  }
  const bytes = await readCapped(request, spec?.maxBytes ?? 64 * 1024)
  try {
    return decoder.decode(bytes)
  } catch {
    throw ValidationError.single('(body)', 'invalid_utf8', 'body is not valid UTF-8')
  }
}
