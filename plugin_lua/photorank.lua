--[[
  photorank.lua - "rank for this person" inside darktable

  Purpose
    Select a photo of a person, press "rank for this person": photorank finds every photo of
    that person among the selected images (or the whole collection), judges each one as a
    photographer would, and this script gives them darktable stars and the tags photorank
    names (photorank|<person>|rank 007, |single, |group, |best of burst, |unsure), so you
    filter by rating and sort. "undo photorank" takes it all out again.

  Additional software
    photorank (the `photorank` command; `photorankd`, its daemon, is used when it runs).

  Usage
    Copy or symlink this file into ~/.config/darktable/lua/contrib/ and enable it in the
    script manager, or add `require "contrib/photorank"` to ~/.config/darktable/luarc.
    Lighttable: the "photorank" panel on the right, a "rank for this person" button in the
    "selected images" module, and a shortcut (set it in preferences > shortcuts > lua).

  How it works
    One `photorank rank ... --paths-from FILE --progress jsonl` process per ranking, read
    line by line through darktable.control.read so darktable never waits; the ratings and
    tags are applied here through the Lua API (darktable owns its sidecars and writes them).
    The rating each photo had before is remembered in <config dir>/photorank/ratings.lua,
    so undo can give it back.

  Lua API 9.0 (darktable 4.2) and later: see plugin_lua/README.md for what differs.
]]

local dt = require "darktable"

local MODULE = "photorank"
local MIN_API = "9.0.0"

local has_dtutils, du = pcall(require, "lib/dtutils")

-- Translations in <config dir>/lua/locale/; where a darktable has no per-script text domain,
-- its own gettext is used (msgids come back unchanged when untranslated).
if dt.gettext.bindtextdomain then dt.gettext.bindtextdomain(MODULE, dt.configuration.config_dir .. "/lua/locale/") end

local function _(msgid)
  if dt.gettext.dgettext then return dt.gettext.dgettext(MODULE, msgid) end
  return dt.gettext.gettext(msgid)
end

-- The pure part: no darktable object in or out, so busted tests it without darktable.
local core = {}

---------------------------------------------------------------------------------------------
-- the command line
---------------------------------------------------------------------------------------------

--- One shell word: single quotes keep spaces, quotes, $ and any byte as they are.
function core.shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

--- The shell command of one photorank run.
-- options: photorank (the command), verb ("rank" or "index"), paths_file, stderr_file, and
-- for rank: reference (nil: the faces tagged with the person's name are the references),
-- reference_face, person, top, best_of_burst, include_unsure; or, for a set of people ranked
-- together, people ({ name, path } each) instead of reference and person.
-- The shell prints its pid, then becomes photorank (exec), so that pid can be interrupted.
function core.build_command(options)
  local q = core.shell_quote
  local words = { q(options.photorank or "photorank"), options.verb }
  local function add(...)
    for _i, word in ipairs({ ... }) do words[#words + 1] = word end
  end
  if options.verb == "rank" and options.people then
    for _i, person in ipairs(options.people) do add("--person", q(person.name), "--ref", q(person.path)) end
    add("--together")
  elseif options.verb == "rank" then
    if options.reference then add("--ref", q(options.reference)) end
    if options.reference and options.reference_face then add("--ref-face", tostring(options.reference_face)) end
    add("--person", q(options.person))
  end
  if options.verb == "rank" then
    if options.top then add("--top", tostring(options.top)) end
    if options.best_of_burst then add("--best-of-burst") end
    if options.include_unsure then add("--include-unsure") end
  end
  add("--paths-from", q(options.paths_file), "--progress", "jsonl")
  return "echo $$; exec " .. table.concat(words, " ") .. " 2>" .. q(options.stderr_file)
end

--- A whole number of at least 1 typed in an entry, or nil (empty, 0, not a whole number).
function core.positive_integer(text)
  local number = math.tointeger(tonumber(text))
  return number and number >= 1 and number or nil
end

--- Writes one path a line (what --paths-from reads). Returns true, or nil and the error.
function core.write_paths(filename, paths)
  local file, err = io.open(filename, "wb")
  if not file then return nil, err end
  for _i, path in ipairs(paths) do
    file:write(path, "\n")
  end
  file:close()
  return true
end

---------------------------------------------------------------------------------------------
-- JSON (what photorank prints), decoded in pure Lua
---------------------------------------------------------------------------------------------

--- Stands for JSON null inside arrays (in objects a null field is simply absent).
core.null = setmetatable({}, { __tostring = function() return "null" end })

local function utf8_or_byte(code)
  -- Python writes bytes of a non-UTF-8 file name as lone surrogates U+DC80..U+DCFF
  -- (surrogateescape): give back the byte, so the path matches darktable's.
  if code >= 0xDC80 and code <= 0xDCFF then return string.char(code - 0xDC00) end
  return utf8.char(code)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function decode_error(text, at, what)
  error(string.format("bad JSON at character %d: %s", at, what), 0)
end

local decode_value

local function skip_space(text, at)
  return text:find("[^ \t\r\n]", at) or #text + 1
end

local function decode_string(text, at)
  local parts = {}
  local i = at + 1
  while true do
    local stop = text:find('["\\]', i)
    if not stop then decode_error(text, at, "unterminated string") end
    parts[#parts + 1] = text:sub(i, stop - 1)
    if text:sub(stop, stop) == '"' then return table.concat(parts), stop + 1 end
    local kind = text:sub(stop + 1, stop + 1)
    if kind == "u" then
      local code = tonumber(text:sub(stop + 2, stop + 5), 16)
      if not code then decode_error(text, stop, "bad \\u escape") end
      i = stop + 6
      if code >= 0xD800 and code <= 0xDBFF and text:sub(i, i + 1) == "\\u" then
        local low = tonumber(text:sub(i + 2, i + 5), 16)
        if low and low >= 0xDC00 and low <= 0xDFFF then
          code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
          i = i + 6
        end
      end
      parts[#parts + 1] = utf8_or_byte(code)
    elseif ESCAPES[kind] then
      parts[#parts + 1] = ESCAPES[kind]
      i = stop + 2
    else
      decode_error(text, stop, "bad escape")
    end
  end
end

-- The items of an object or an array, from its opening bracket at `at` to `close`;
-- read_item(i) reads one item (a member, an element) and returns the position after it.
local function decode_items(text, at, close, read_item)
  local i = skip_space(text, at + 1)
  if text:sub(i, i) == close then return i + 1 end
  while true do
    i = skip_space(text, read_item(i))
    local sep = text:sub(i, i)
    if sep == close then return i + 1 end
    if sep ~= "," then decode_error(text, i, "expected ',' or '" .. close .. "'") end
    i = skip_space(text, i + 1)
  end
end

local function decode_object(text, at)
  local object = {}
  return object, decode_items(text, at, "}", function(i)
    if text:sub(i, i) ~= '"' then decode_error(text, i, "expected a key") end
    local key, after = decode_string(text, i)
    after = skip_space(text, after)
    if text:sub(after, after) ~= ":" then decode_error(text, after, "expected ':'") end
    local value
    value, after = decode_value(text, after + 1)
    if value ~= core.null then object[key] = value end
    return after
  end)
end

local function decode_array(text, at)
  local array = {}
  return array, decode_items(text, at, "]", function(i)
    local value, after = decode_value(text, i)
    array[#array + 1] = value
    return after
  end)
end

local LITERALS = { ["true"] = true, ["false"] = false, null = core.null }

function decode_value(text, at)
  at = skip_space(text, at)
  local first = text:sub(at, at)
  if first == "{" then return decode_object(text, at) end
  if first == "[" then return decode_array(text, at) end
  if first == '"' then return decode_string(text, at) end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", at)
  if number and #number > 0 then
    local value = tonumber(number)
    if value == nil then decode_error(text, at, "bad number") end
    return value, at + #number
  end
  local word = text:match("^%a+", at)
  if word and LITERALS[word] ~= nil then return LITERALS[word], at + #word end
  decode_error(text, at, "unexpected " .. (first == "" and "end" or first))
end

--- The Lua value of a JSON text; raises "bad JSON at character N: ..." on malformed input.
function core.json_decode(text)
  local value, at = decode_value(text, 1)
  if skip_space(text, at) <= #text then decode_error(text, at, "trailing characters") end
  return value
end

---------------------------------------------------------------------------------------------
-- photorank's output: progress events, then the final document
---------------------------------------------------------------------------------------------

--- Reads photorank's stdout one line at a time.  A line holding a progress event returns
-- the event; any other line belongs to the final document (on one line with --progress
-- jsonl), which reader:document() decodes at the end.
function core.new_output_reader()
  local reader = { pid = nil, lines = {} }

  function reader:feed(line)
    if self.pid == nil and line:match("^%d+$") then -- the shell's `echo $$`
      self.pid = line
      return nil
    end
    if line:match('^%s*{%s*"event"%s*:') then
      local ok, event = pcall(core.json_decode, line)
      if ok and type(event) == "table" then return event end
    end
    self.lines[#self.lines + 1] = line
    return nil
  end

  function reader:document()
    local text = table.concat(self.lines, "\n")
    if not text:find("%S") then return nil, "photorank printed no result" end
    local ok, document = pcall(core.json_decode, text)
    if not ok then return nil, "photorank's output could not be read (" .. document .. ")" end
    return document
  end

  return reader
end

local PHASES = { references = "reading the reference", indexing = "analysing", ranking = "ranking", writing = "writing" }

--- Fraction done (0-1) and a short line for the panel, from a progress event.
function core.progress_text(event)
  local done, total = tonumber(event.done) or 0, tonumber(event.total) or 0
  local fraction = total > 0 and math.min(1, math.max(0, done / total)) or 0
  local phase = PHASES[event.phase] or tostring(event.phase or "working")
  local text = total > 0 and string.format("%s %d / %d", phase, done, total) or phase
  local name = type(event.path) == "string" and event.path:match("[^/]*$") or ""
  if name ~= "" then text = text .. ": " .. name end
  return fraction, text
end

--- A gate for progress shown in darktable: true when the whole percent or the phase changed
-- since the last time it said true.  Every widget or job update is a round trip to darktable's
-- GUI thread; thousands of photos must not make thousands of them.
function core.progress_gate()
  local shown_percent, shown_phase
  return function(fraction, phase)
    local percent = math.floor(fraction * 100)
    if percent == shown_percent and phase == shown_phase then return false end
    shown_percent, shown_phase = percent, phase
    return true
  end
end

--- The message a user reads when photorank failed: its own "photorank: ..." line, or why
-- it could not run at all.
function core.failure_message(exit_code, stderr_text)
  local last
  for line in (stderr_text or ""):gmatch("[^\n]+") do
    if line:find("%S") then last = line end
    if line:match("^photorank: ") then return line end
  end
  if exit_code == 127 then
    return "photorank: not found; install it (pip install photorank) or set its path in preferences > lua options"
  end
  return "photorank: failed (exit " .. tostring(exit_code) .. ")" .. (last and (": " .. last) or "")
end

--- photorankd's command beside photorank's ("/venv/bin/photorank" -> "/venv/bin/photorankd").
function core.daemon_command(command)
  local daemon = command:gsub("photorank$", "photorankd")
  return daemon ~= command and daemon or "photorankd"
end

--- What `photorank status --json` says: "running", "stopped", or "missing" (not installed).
--- The document of a finished photorank run, or nil and the message to show.  Exit 1 with a
-- document is a run that went through but could not read some files (they are in its
-- `errors`) or found nothing: its results still apply.
function core.finished(exit_code, reader, stderr_text)
  if exit_code == 0 then return reader:document() end
  if exit_code == 1 then
    local document = reader:document()
    if document then return document end
  end
  return nil, core.failure_message(exit_code, stderr_text)
end

function core.daemon_state(exit_code, stdout_text)
  if exit_code == 127 then return "missing" end
  local ok, status = pcall(core.json_decode, stdout_text or "")
  if ok and type(status) == "table" and status.running == true then return "running", status.address end
  return "stopped"
end

---------------------------------------------------------------------------------------------
-- tags
---------------------------------------------------------------------------------------------

-- photorank names every tag itself: a document gives each result's `keywords` and the
-- `keyword_prefix` all of the person's (or set's) begin with.  Undo with no document at hand
-- takes off what is under the root every prefix shares.
local TAG_ROOT = "photorank|"

local function is_under(name, prefix)
  return name:sub(1, #prefix) == prefix
end

--- The prefix of a ranking's tags, or nil and the message when the document names none (a
-- photorank older than the plugin, or a ranking without a person).
function core.keyword_prefix(document)
  local prefix = document.keyword_prefix
  if type(prefix) ~= "string" or not is_under(prefix, TAG_ROOT) or prefix == TAG_ROOT then
    return nil, _("photorank: its ranking names no tags; update photorank (pip install -U photorank)")
  end
  return prefix
end

---------------------------------------------------------------------------------------------
-- the rating policy (the same as photorank's for sidecars, docs/xmp.md)
---------------------------------------------------------------------------------------------
-- A memory entry says what photorank did to one image's rating:
--   { before = <rating the image had>, written = <rating we set>, persons = { [name] = stars } }
-- The rating is "ours" while it still equals `written`; a user's change makes it theirs.

local function highest(persons)
  local best
  for _i, stars in pairs(persons) do
    if best == nil or stars > best then best = stars end
  end
  return best
end

local function copy(table_in)
  local out = {}
  for key, value in pairs(table_in or {}) do out[key] = value end
  return out
end

--- The rating to set when `person` earned `stars`, the new memory entry, and a note when the
-- user's rating is kept.  policy: { overwrite = bool, unrated = { [0] = true, [1] = true } }
function core.apply_rating(current, entry, person, stars, policy)
  local ours = entry ~= nil and entry.written == current
  local before = ours and entry.before or current
  if not ours then
    if current < 0 then return current, nil, "rejected by user" end
    if not (policy.unrated[current] or policy.overwrite) then return current, nil, "set by user" end
  end
  local persons = ours and copy(entry.persons) or {}
  persons[person] = stars
  local wanted = highest(persons)
  return wanted, { before = before, written = wanted, persons = persons }
end

--- The rating after taking `person` (nil: everyone) out, and the memory entry left.
function core.remove_rating(current, entry, person)
  if entry == nil then return current, nil end
  if entry.written ~= current then return current, nil end -- the user changed it since: theirs
  local persons = {}
  if person ~= nil then
    persons = copy(entry.persons)
    persons[person] = nil
  end
  local wanted = highest(persons)
  if wanted == nil then return entry.before, nil end
  return wanted, { before = entry.before, written = wanted, persons = persons }
end

--- The memory of ratings: a Lua table in a file, keyed by image (see image_key).
function core.load_memory(filename)
  local file = io.open(filename, "rb")
  if not file then return {} end
  local text = file:read("a")
  file:close()
  local chunk = load(text, "=" .. filename, "t", {})
  local ok, memory = pcall(chunk or error)
  if ok and type(memory) == "table" then return memory end
  return {}
end

local function serialize(value)
  if type(value) == "table" then
    local keys = {}
    for key in pairs(value) do keys[#keys + 1] = key end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _i, key in ipairs(keys) do
      parts[#parts + 1] = "[" .. serialize(key) .. "]=" .. serialize(value[key])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(value) == "string" then
    return string.format("%q", value)
  end
  return tostring(math.tointeger(value) or value)
end

--- Writes the memory atomically (a new file renamed over the old one).
function core.save_memory(filename, memory)
  local parts = { "return {\n" }
  local keys = {}
  for key in pairs(memory) do keys[#keys + 1] = key end
  table.sort(keys)
  for _i, key in ipairs(keys) do
    parts[#parts + 1] = "[" .. serialize(key) .. "]=" .. serialize(memory[key]) .. ",\n"
  end
  parts[#parts + 1] = "}\n"
  local temp = filename .. ".new"
  local file, err = io.open(temp, "wb")
  if not file then return nil, err end
  file:write(table.concat(parts))
  file:close()
  return os.rename(temp, filename)
end

---------------------------------------------------------------------------------------------
-- choosing the reference and the photos
---------------------------------------------------------------------------------------------

local function image_path(image)
  return image.path .. "/" .. image.filename
end
core.image_path = image_path

--- The key of one darktable image in the memory: its file and its duplicate number.
function core.image_key(image)
  return image_path(image) .. "#" .. tostring(image.duplicate_index or 0)
end

--- The reference image and the images to rank.
-- acted_on: the images the action is for (selection or hovered); hovered: the image under
-- the mouse or nil; chosen: the image "set reference" remembered, or nil; collection: all
-- images of the current collection, a function called only when they are needed (listing a
-- large collection takes darktable seconds).  The reference is the chosen one, else the
-- hovered one, else the first acted on; the photos are the others acted on, or the whole
-- collection when no other image is.
function core.choose_images(acted_on, hovered, chosen, collection)
  local reference = chosen or hovered or acted_on[1]
  if reference == nil then return nil, {} end
  local reference_path = image_path(reference)
  local function others(images)
    local out = {}
    for _i, image in ipairs(images) do
      if image_path(image) ~= reference_path then out[#out + 1] = image end
    end
    return out
  end
  local photos = others(acted_on)
  if #photos == 0 then photos = others(collection()) end
  return reference, photos
end

--- Which reference a ranking uses, as the panel and the toast name it: its file name, and the
-- face when it matters (one was asked for, or the photo holds several).  face_asked: the
-- panel's face number or nil; used: the document's first `references` entry, once photorank
-- has answered (its `face` and `faces`), or nil.
function core.reference_text(filename, face_asked, used)
  local face, faces = face_asked, nil
  if used then face, faces = math.tointeger(used.face), math.tointeger(used.faces) end
  if face == nil or (face_asked == nil and (faces or 1) <= 1) then return filename end
  if faces then return string.format(_("%s, face %d of %d"), filename, face, faces) end
  return string.format(_("%s, face %d"), filename, face)
end

--- The people of a set ranked together, each with one reference: { name, path } in the order
-- they were set.  `set_person` gives `name` this reference (a new name goes last).
function core.set_person(people, name, path)
  local out, replaced = {}, false
  for _i, person in ipairs(people) do
    if person.name == name then
      out[#out + 1] = { name = name, path = path }
      replaced = true
    else
      out[#out + 1] = person
    end
  end
  if not replaced then out[#out + 1] = { name = name, path = path } end
  return out
end

--- The set's name, as photorank names it in tags: "Alice + Bob".
function core.set_name(people)
  local names = {}
  for _i, person in ipairs(people) do names[#names + 1] = person.name end
  return table.concat(names, " + ")
end

--- The panel's line: "Alice: alice.jpg, Bob: bob.jpg".
function core.people_text(people)
  local parts = {}
  for _i, person in ipairs(people) do parts[#parts + 1] = person.name .. ": " .. person.path:match("[^/]*$") end
  return table.concat(parts, ", ")
end

--- The people kept in a preference and back: darktablerc holds one setting a line, so the
-- people are joined by ASCII's record separator and each name from its path by the unit
-- separator, characters no name or path typed by a user holds.
function core.people_to_text(people)
  local records = {}
  for _i, person in ipairs(people) do records[#records + 1] = person.name .. "\31" .. person.path end
  return table.concat(records, "\30")
end

function core.people_from_text(text)
  local people = {}
  for name, path in tostring(text or ""):gmatch("([^\30\31]+)\31([^\30]+)") do people[#people + 1] = { name = name, path = path } end
  return people
end

--- The images to rank for a set: those acted on, else the whole collection; never the
-- people's reference photos.
function core.choose_set_images(acted_on, people, collection)
  local references = {}
  for _i, person in ipairs(people) do references[person.path] = true end
  local function others(images)
    local out = {}
    for _i, image in ipairs(images) do
      if not references[image_path(image)] then out[#out + 1] = image end
    end
    return out
  end
  local photos = others(acted_on)
  if #photos == 0 then photos = others(collection()) end
  return photos
end

--- The images to rank when the faces tagged with the person's name are the references (no
-- reference photo): those acted on when several are, else the whole collection.
function core.choose_tagged_images(acted_on, collection)
  if #acted_on > 1 then return acted_on end
  return collection()
end

--- Distinct file paths of the images (darktable duplicates share a file), in order, and
-- the images of each path.
function core.group_by_path(images)
  local paths, by_path = {}, {}
  for _i, image in ipairs(images) do
    local path = image_path(image)
    if by_path[path] == nil then
      by_path[path] = {}
      paths[#paths + 1] = path
    end
    table.insert(by_path[path], image)
  end
  return paths, by_path
end

---------------------------------------------------------------------------------------------
-- applying a ranking to darktable images
---------------------------------------------------------------------------------------------

--- Gives every image of the ranked set what this ranking says (stars, and the document's
-- keywords as tags, where the person is; the tags under the document's prefix and the person's
-- rating taken off where they no longer are; files photorank could not read are left alone).
-- person: the name the memory of ratings keeps the stars under.  tags: an interface over
-- dt.tags (create, attach, detach, get_tags, delete_if_unused) so tests can stand in for
-- darktable.  Returns counts { tagged, rated, kept, cleared }, or nil and the message when the
-- document names no tags (nothing is changed then).
function core.apply_document(document, person, by_path, memory, policy, tags, on_step)
  local prefix, problem = core.keyword_prefix(document)
  if not prefix then return nil, problem end
  local counts = { tagged = 0, rated = 0, kept = 0, cleared = 0 }
  local results, unreadable = {}, {}
  for _i, result in ipairs(document.results or {}) do results[result.path] = result end
  for _i, failure in ipairs(document.errors or {}) do unreadable[failure.path] = true end

  local created = {} -- each tag created once
  local function tag(name)
    created[name] = created[name] or tags.create(name)
    return created[name]
  end

  local touched_tags = {}
  local paths = {}
  for path in pairs(by_path) do paths[#paths + 1] = path end
  table.sort(paths)
  for step, path in ipairs(paths) do
    local result = results[path]
    if result ~= nil or not unreadable[path] then
      local wanted = {}
      for _i, name in ipairs(result and result.keywords or {}) do wanted[name] = true end
      for _i, image in ipairs(by_path[path]) do
        for _i, old in ipairs(tags.get_tags(image)) do
          if is_under(old.name, prefix) and not wanted[old.name] then
            tags.detach(old, image)
            touched_tags[old.name] = old
          end
        end
        local key = core.image_key(image)
        local current = image.rating
        local rating, entry, note
        if result then
          for name in pairs(wanted) do tags.attach(tag(name), image) end
          rating, entry, note = core.apply_rating(current, memory[key], person, math.tointeger(result.stars), policy)
          counts.tagged = counts.tagged + 1
          if note then counts.kept = counts.kept + 1 elseif rating ~= current or entry then counts.rated = counts.rated + 1 end
        else
          rating, entry = core.remove_rating(current, memory[key], person)
          if memory[key] then counts.cleared = counts.cleared + 1 end
        end
        memory[key] = entry
        if rating ~= current then image.rating = rating end
      end
    end
    if on_step then on_step(step, #paths) end
  end
  for _i, old in pairs(touched_tags) do tags.delete_if_unused(old) end
  return counts
end

--- Takes photorank's tags (all persons) off the images and gives back the ratings that are
-- still ours.  Returns the number of images that had something of photorank's.
function core.undo_images(images, memory, tags)
  local undone, touched_tags = 0, {}
  for _i, image in ipairs(images) do
    local had = false
    for _i, old in ipairs(tags.get_tags(image)) do
      if is_under(old.name, TAG_ROOT) then
        tags.detach(old, image)
        touched_tags[old.name] = old
        had = true
      end
    end
    local key = core.image_key(image)
    if memory[key] then
      local rating = core.remove_rating(image.rating, memory[key], nil)
      if rating ~= image.rating then image.rating = rating end
      memory[key] = nil
      had = true
    end
    if had then undone = undone + 1 end
  end
  for _i, old in pairs(touched_tags) do tags.delete_if_unused(old) end
  return undone
end

---------------------------------------------------------------------------------------------
-- darktable glue
---------------------------------------------------------------------------------------------

local script_data = {}
script_data.metadata = {
  name = "photorank",
  purpose = _("rank the photos of a person as a photographer would: stars and tags"),
  author = "photorank",
  help = "plugin_lua/README.md in the photorank sources",
}
script_data.destroy = nil
script_data.destroy_method = "hide"
script_data.restart = nil
script_data.show = nil
script_data.core = core -- for the unit tests

if has_dtutils then
  du.check_min_api_version(MIN_API, MODULE)
elseif not dt.configuration.check_version then
  error("photorank needs darktable 4.2 (Lua API " .. MIN_API .. ") or later")
end

local ACTION = "photorank_rank"
local RANK_EVENT, RANK_SHORTCUT = "photorank", "photorank rank for this person"
local SET_EVENT, SET_SHORTCUT = "photorank_together", "photorank rank for these people"
local UNDO_EVENT, UNDO_SHORTCUT = "photorank_undo", "photorank undo"

local state = {
  running = false,
  reference = nil, -- the image "set reference" chose
  people = core.people_from_text(dt.preferences.read(MODULE, "people", "string")), -- named references of a set
  memory_file = dt.configuration.config_dir .. "/photorank/ratings.lua",
}
os.execute("mkdir -p " .. core.shell_quote(dt.configuration.config_dir .. "/photorank"))

dt.preferences.register(MODULE, "command", "string", _("photorank: command"),
  _("the photorank program; a full path when it is not on PATH"), "photorank")
dt.preferences.register(MODULE, "start_daemon", "bool", _("photorank: start photorankd"),
  _("start photorank's daemon when it is not running, so rankings after the first are fast"), true)

local function pref(name, kind, default)
  local value = dt.preferences.read(MODULE, name, kind)
  if kind == "string" and value == "" then return default end
  return value
end

local dt_tags = {
  create = function(name) return dt.tags.create(name) end,
  attach = function(tag, image) dt.tags.attach(tag, image) end,
  detach = function(tag, image) dt.tags.detach(tag, image) end,
  get_tags = function(image) return dt.tags.get_tags(image) end,
  delete_if_unused = function(tag)
    if #tag == 0 then dt.tags.delete(tag) end
  end,
}

-- widgets ---------------------------------------------------------------------------------

local widgets = {}

local function remember_settings()
  dt.preferences.write(MODULE, "person", "string", widgets.person.text)
  dt.preferences.write(MODULE, "top", "string", widgets.top.text)
  dt.preferences.write(MODULE, "reference_face", "string", widgets.reference_face.text)
  dt.preferences.write(MODULE, "best_of_burst", "bool", widgets.best_of_burst.value)
  dt.preferences.write(MODULE, "include_unsure", "bool", widgets.include_unsure.value)
  dt.preferences.write(MODULE, "tagged_references", "bool", widgets.tagged_references.value)
  dt.preferences.write(MODULE, "overwrite", "bool", widgets.policy.selected == 2)
  dt.preferences.write(MODULE, "one_star", "string", widgets.one_star_unrated.value and "unrated" or "rated")
end

local function show_status(text)
  widgets.status.label = text
end

local function fail(message)
  show_status(message)
  dt.print(message)
  dt.print_error(message)
end

local function rating_policy()
  local unrated = { [0] = true }
  if widgets.one_star_unrated.value then unrated[1] = true end
  return { overwrite = widgets.policy.selected == 2, unrated = unrated }
end

-- running photorank -----------------------------------------------------------------------

--- Runs one photorank command with progress in a darktable job; returns the final document,
-- or nil and a message (cancelled, or why it failed).
local function run_photorank(options, job_label, paths)
  local paths_file, stderr_file = os.tmpname(), os.tmpname()
  local ok, err = core.write_paths(paths_file, paths)
  if not ok then return nil, _("photorank: cannot write the list of photos: ") .. tostring(err) end
  options.paths_file, options.stderr_file = paths_file, stderr_file
  options.photorank = pref("command", "string", "photorank")

  local reader = core.new_output_reader()
  local should_show = core.progress_gate()
  local cancelled = false
  local job = dt.gui.create_job(job_label, true, function(this_job)
    cancelled = true
    if reader.pid then dt.control.execute("kill -INT " .. reader.pid) end
    this_job.valid = false
  end)
  local pipe = io.popen(core.build_command(options), "r")
  while true do
    dt.control.read(pipe) -- waits without blocking darktable
    local line = pipe:read("l")
    if line == nil then break end
    local event = reader:feed(line)
    if event then
      local fraction, text = core.progress_text(event)
      if should_show(fraction, event.phase) then
        if job.valid then job.percent = fraction end
        show_status(text)
      end
    end
  end
  local _closed, _how, exit_code = pipe:close()
  if job.valid then job.valid = false end

  local stderr_text = ""
  local stderr = io.open(stderr_file, "rb")
  if stderr then
    stderr_text = stderr:read("a")
    stderr:close()
  end
  os.remove(paths_file)
  os.remove(stderr_file)
  if cancelled then return nil, _("photorank: cancelled") end
  return core.finished(exit_code, reader, stderr_text)
end

--- Makes sure photorank is there and says whether its daemon serves the ranking; starts
-- photorankd when asked to.  Returns nil and a message when photorank cannot run at all.
local function check_photorank()
  local command = pref("command", "string", "photorank")
  local pipe = io.popen(core.shell_quote(command) .. " status --json 2>/dev/null", "r")
  dt.control.read(pipe)
  local text = pipe:read("a")
  local _closed, _how, exit_code = pipe:close()
  local daemon, address = core.daemon_state(exit_code, text)
  if daemon == "missing" then return nil, core.failure_message(127, "") end
  if daemon == "running" then
    show_status(_("using photorankd at ") .. tostring(address))
  elseif dt.preferences.read(MODULE, "start_daemon", "bool") then
    local log = dt.configuration.config_dir .. "/photorank/photorankd.log"
    dt.control.execute(core.shell_quote(core.daemon_command(command)) .. " >>" .. core.shell_quote(log) .. " 2>&1 &")
    dt.print(_("photorank: started photorankd (log: ") .. log .. _("); this run may still work in-process"))
  else
    show_status(_("photorankd is not running: photorank works in-process"))
  end
  return true
end

--- The images of the current collection.  pairs, not ipairs: darktable looks each index up
-- anew, and its pairs walks the collection in half the time.
local function collection_images()
  local images = {}
  for _i, image in pairs(dt.collection) do images[#images + 1] = image end
  return images
end

local function announce(text)
  show_status(text)
  dt.print(text)
end

--- Runs `work` as the only photorank run at a time, after making sure photorank is there when
-- it needs it; a Lua error becomes a message, never a traceback.
local function run_exclusively(work, needs_photorank)
  if state.running then return dt.print(_("photorank is already running")) end
  state.running = true
  local ok, err = pcall(function()
    if needs_photorank then
      local ready, problem = check_photorank()
      if not ready then return fail(problem) end
    end
    work()
  end)
  state.running = false
  if not ok then fail("photorank: " .. tostring(err)) end
end

--- Stars and tags of a finished ranking onto the images, the plugin's memory of ratings saved,
-- and the outcome said in the words of `found_text(found, ranked)`.
local function apply_ranking(document, person, by_path, found_text)
  local memory = core.load_memory(state.memory_file)
  local job = dt.gui.create_job(_("photorank: applying stars and tags"), true)
  local should_show = core.progress_gate()
  local counts, problem = core.apply_document(document, person, by_path, memory, rating_policy(), dt_tags,
    function(step, total)
      if should_show(step / total, "applying") then job.percent = step / total end
    end)
  job.valid = false
  if not counts then return fail(problem) end
  core.save_memory(state.memory_file, memory)

  local ranked = 0
  for _path in pairs(by_path) do ranked = ranked + 1 end
  local found = math.tointeger(document.found) or #(document.results or {})
  local text = found_text(found, ranked)
  if counts.kept > 0 then text = text .. string.format(_("; %d ratings kept"), counts.kept) end
  if document.errors and #document.errors > 0 then
    text = text .. string.format(_("; %d could not be read"), #document.errors)
  end
  announce(text)
end

local function rank_for_person(acted_on)
  remember_settings()
  local person = widgets.person.text:gsub("^%s+", ""):gsub("%s+$", "")
  if person == "" then return fail(_("photorank: type the person's name in the photorank panel first")) end
  local reference, photos
  if state.reference == nil and widgets.tagged_references.value then
    photos = core.choose_tagged_images(acted_on or {}, collection_images)
  else
    reference, photos = core.choose_images(acted_on or {}, dt.gui.hovered, state.reference, collection_images)
    if reference == nil then return fail(_("photorank: select a photo of the person first")) end
  end
  if #photos == 0 then return fail(_("photorank: no other photos to rank")) end

  local paths, by_path = core.group_by_path(photos)
  local face_asked = core.positive_integer(widgets.reference_face.text)
  -- said at once: "the first selected" follows the lighttable's sort order, not the click order
  local chosen = reference and core.reference_text(reference.filename, face_asked) or _("the faces tagged ") .. person
  widgets.reference.label = _("reference: ") .. chosen
  run_exclusively(function()
    local document, message = run_photorank({
      verb = "rank",
      reference = reference and core.image_path(reference),
      reference_face = face_asked,
      person = person,
      top = core.positive_integer(widgets.top.text),
      best_of_burst = widgets.best_of_burst.value,
      include_unsure = widgets.include_unsure.value,
    }, string.format(_("photorank: ranking %d photos for %s"), #paths, person), paths)
    if not document then return fail(message) end
    local used = reference and core.reference_text(reference.filename, face_asked, (document.references or {})[1]) or chosen
    widgets.reference.label = _("reference: ") .. used
    apply_ranking(document, person, by_path, function(found, ranked)
      return string.format(_("photorank: %s found in %d of %d photos (reference %s)"), person, found, ranked, used)
    end)
  end, true)
end

local function rank_for_people(acted_on)
  remember_settings()
  if #state.people < 2 then
    return fail(_("photorank: set a reference for each person first (type the name, select their photo, set reference)"))
  end
  local photos = core.choose_set_images(acted_on or {}, state.people, collection_images)
  if #photos == 0 then return fail(_("photorank: no other photos to rank")) end
  local name = core.set_name(state.people)
  local paths, by_path = core.group_by_path(photos)
  run_exclusively(function()
    local document, message = run_photorank({
      verb = "rank",
      people = state.people,
      top = core.positive_integer(widgets.top.text),
      best_of_burst = widgets.best_of_burst.value,
      include_unsure = widgets.include_unsure.value,
    }, string.format(_("photorank: ranking %d photos for %s"), #paths, name), paths)
    if not document then return fail(message) end
    apply_ranking(document, name, by_path, function(found, ranked)
      return string.format(_("photorank: %s together in %d of %d photos"), name, found, ranked)
    end)
  end, true)
end

local function index_collection()
  local paths = core.group_by_path(collection_images())
  if #paths == 0 then return fail(_("photorank: the collection is empty")) end
  run_exclusively(function()
    local document, message = run_photorank({ verb = "index" },
      string.format(_("photorank: analysing %d photos"), #paths), paths)
    if not document then return fail(message) end
    announce(string.format(_("photorank: %d photos, %d analysed now, %d already known"),
      math.tointeger(document.photos) or #paths, math.tointeger(document.analysed) or 0,
      math.tointeger(document.cached) or 0))
  end, true)
end

local function undo_selection()
  run_exclusively(function()
    local memory = core.load_memory(state.memory_file)
    local undone = core.undo_images(dt.gui.action_images, memory, dt_tags)
    core.save_memory(state.memory_file, memory)
    announce(string.format(_("photorank: undone on %d photos"), undone))
  end, false)
end

local function people_label()
  return #state.people > 0 and _("people: ") .. core.people_text(state.people) or ""
end

local function show_people()
  widgets.people.label = people_label()
  dt.preferences.write(MODULE, "people", "string", core.people_to_text(state.people))
end

--- The selected photo becomes the reference, and the reference of the person named in the
-- panel (several people: one each, for "rank for these people"); nothing selected forgets them.
local function set_reference()
  local images = dt.gui.action_images
  if #images == 0 then
    state.reference = nil
    state.people = {}
    widgets.reference.label = _("reference: the selected photo")
    return show_people()
  end
  state.reference = images[1]
  widgets.reference.label = _("reference: ") .. images[1].filename
  local person = widgets.person.text:gsub("^%s+", ""):gsub("%s+$", "")
  if person ~= "" then state.people = core.set_person(state.people, person, core.image_path(images[1])) end
  show_people()
end

widgets.person = dt.new_widget("entry") {
  text = pref("person", "string", ""),
  placeholder = _("person's name"),
  tooltip = _("the name in the tags: photorank|<name>|rank 001"),
}
widgets.reference_face = dt.new_widget("entry") {
  text = pref("reference_face", "string", ""),
  placeholder = _("face in the reference (empty: the largest)"),
  tooltip = _("in a reference with several people: the person's face, 1 = leftmost"),
}
widgets.top = dt.new_widget("entry") {
  text = pref("top", "string", ""),
  placeholder = _("top N (empty: all)"),
  tooltip = _("keep only the N best photos"),
}
widgets.best_of_burst = dt.new_widget("check_button") {
  label = _("best of burst only"),
  value = pref("best_of_burst", "bool"),
  tooltip = _("keep only the best photo of each burst or near-duplicate group"),
}
widgets.tagged_references = dt.new_widget("check_button") {
  label = _("no reference set: use the tagged faces"),
  value = pref("tagged_references", "bool"),
  tooltip = _("with no reference set, the faces tagged with this name (face regions from digiKam, Lightroom, Picasa...) are the references"),
}
widgets.include_unsure = dt.new_widget("check_button") {
  label = _("include unsure matches"),
  value = pref("include_unsure", "bool"),
  tooltip = _("also rank photos where the person is probably there (tagged |unsure)"),
}
widgets.policy = dt.new_widget("combobox") {
  label = _("ratings"),
  tooltip = _("a reject is always kept"),
  selected = pref("overwrite", "bool") and 2 or 1,
  _("keep the user's"), _("overwrite"),
}
widgets.one_star_unrated = dt.new_widget("check_button") {
  label = _("1 star counts as unrated"),
  value = pref("one_star", "string", "unrated") == "unrated",
  tooltip = _("darktable gives every imported photo 1 star: photorank may replace it"),
}
widgets.reference = dt.new_widget("label") { label = _("reference: the selected photo") }
widgets.people = dt.new_widget("label") { label = people_label() }
widgets.status = dt.new_widget("label") { label = "" }

local function button(label, tooltip, callback)
  return dt.new_widget("button") { label = label, tooltip = tooltip, clicked_callback = callback }
end

local panel = dt.new_widget("box") {
  orientation = "vertical",
  widgets.person,
  widgets.top,
  widgets.best_of_burst,
  widgets.include_unsure,
  widgets.tagged_references,
  widgets.policy,
  widgets.one_star_unrated,
  widgets.reference,
  widgets.reference_face,
  button(_("set reference"), _("remember the selected photo as the reference (select nothing to forget it)"),
    set_reference),
  button(_("rank for this person"), _("rank the selected photos (or the collection) for the person in the reference"),
    function() rank_for_person(dt.gui.action_images) end),
  widgets.people,
  button(_("rank for these people"), _("rank the selected photos (or the collection) for all the people set, together"),
    function() rank_for_people(dt.gui.action_images) end),
  button(_("index this collection"), _("analyse the collection now, so that ranking later is fast"),
    index_collection),
  button(_("undo photorank"), _("take photorank's tags off the selected photos and give back their ratings"),
    undo_selection),
  widgets.status,
}

local function register_actions()
  dt.gui.libs.image.register_action(ACTION, _("rank for this person"),
    function(event, images) rank_for_person(images) end,
    _("rank the selected photos for the person in the reference (photorank)"))
  dt.register_event(RANK_EVENT, "shortcut",
    function() rank_for_person(dt.gui.action_images) end, RANK_SHORTCUT)
  dt.register_event(SET_EVENT, "shortcut",
    function() rank_for_people(dt.gui.action_images) end, SET_SHORTCUT)
  dt.register_event(UNDO_EVENT, "shortcut", undo_selection, UNDO_SHORTCUT)
end

dt.register_lib(MODULE, "photorank", true, false,
  { [dt.gui.views.lighttable] = { "DT_UI_CONTAINER_PANEL_RIGHT_CENTER", 100 } },
  panel, nil, nil)
register_actions()

local function destroy()
  dt.gui.libs.image.destroy_action(ACTION)
  dt.destroy_event(RANK_EVENT, "shortcut")
  dt.destroy_event(SET_EVENT, "shortcut")
  dt.destroy_event(UNDO_EVENT, "shortcut")
  dt.gui.libs[MODULE].visible = false
end

local function restart()
  register_actions()
  dt.gui.libs[MODULE].visible = true
end

--- What the panel shows now (the reference it names, the status line with the last message):
-- for other scripts, and the end-to-end test.
script_data.panel = function()
  return { reference = widgets.reference.label, status = widgets.status.label }
end
script_data.destroy = destroy
script_data.restart = restart
script_data.show = restart

return script_data
