// A small JSON reader for the test vectors (crypto/test-vectors/*.json): the JVM has no JSON
// parser of its own, and this machine reaches no Maven repository for one.
package app.steelnotes.tests

/** Parses one JSON document into Map / List / String / Long / Double / Boolean / null. */
class Json private constructor(private val s: String) {
    private var i = 0

    companion object {
        fun parse(text: String): Any? = Json(text).run {
            val v = value()
            space()
            check(i == s.length) { "trailing characters at $i" }
            v
        }
    }

    private fun space() {
        while (i < s.length && s[i].isWhitespace()) i++
    }

    private fun value(): Any? {
        space()
        return when (val c = s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> word("true", true)
            'f' -> word("false", false)
            'n' -> word("null", null)
            else -> if (c == '-' || c.isDigit()) num() else error("unexpected '$c' at $i")
        }
    }

    private fun word(w: String, v: Any?): Any? {
        check(s.startsWith(w, i)) { "expected $w at $i" }
        i += w.length
        return v
    }

    private fun obj(): Map<String, Any?> {
        val m = LinkedHashMap<String, Any?>()
        i++
        space()
        if (s[i] == '}') { i++; return m }
        while (true) {
            space()
            val k = str()
            space()
            check(s[i++] == ':') { "expected ':' at ${i - 1}" }
            m[k] = value()
            space()
            when (s[i++]) {
                ',' -> continue
                '}' -> return m
                else -> error("expected ',' or '}' at ${i - 1}")
            }
        }
    }

    private fun arr(): List<Any?> {
        val l = ArrayList<Any?>()
        i++
        space()
        if (s[i] == ']') { i++; return l }
        while (true) {
            l.add(value())
            space()
            when (s[i++]) {
                ',' -> continue
                ']' -> return l
                else -> error("expected ',' or ']' at ${i - 1}")
            }
        }
    }

    private fun str(): String {
        check(s[i] == '"') { "expected a string at $i" }
        i++
        val b = StringBuilder()
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> return b.toString()
                '\\' -> when (val e = s[i++]) {
                    'n' -> b.append('\n')
                    't' -> b.append('\t')
                    'r' -> b.append('\r')
                    'b' -> b.append('\b')
                    'f' -> b.append('\u000c')
                    'u' -> { b.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                    else -> b.append(e)
                }
                else -> b.append(c)
            }
        }
    }

    private fun num(): Any {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val t = s.substring(start, i)
        return t.toLongOrNull() ?: t.toDouble()
    }
}

/** The object's field `k`, typed. */
@Suppress("UNCHECKED_CAST")
operator fun Any?.get(k: String): Any? = (this as Map<String, Any?>)[k]

@Suppress("UNCHECKED_CAST")
fun Any?.list(): List<Any?> = this as List<Any?>

fun Any?.str(): String = this as String

fun Any?.long(): Long = this as Long

fun String.hex(): ByteArray = chunked(2).map { it.toInt(16).toByte() }.toByteArray()

fun ByteArray.hex(): String = joinToString("") { "%02x".format(it) }
