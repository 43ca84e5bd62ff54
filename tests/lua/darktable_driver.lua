-- Runs inside a real darktable (tests/test_plugin_darktable.py): imports the photos, finds the
-- plugin luarc loaded, ranks for the person through the plugin's shortcut action, waits for it,
-- takes a screenshot, ranks for a set of two people through their shortcut, undoes, and writes
-- what darktable holds at each step (and what the panel said) into a report.  Whatever happens
-- it writes "done" and quits, so darktable never waits for a user.

local dt = require "darktable"

local env = os.getenv
local report = assert(io.open(env("PR_REPORT"), "w"))

local function line(...)
  report:write(table.concat({ ... }, "\t"), "\n")
  report:flush()
end

-- Wall-clock seconds (darktable's Lua has no finer clock than os.time).
local function now()
  local pipe = io.popen("date +%s.%N")
  local seconds = tonumber(pipe:read("l"))
  pipe:close()
  return seconds
end

local function timed(phase, started)
  line("time", phase, string.format("%.2f", now() - started))
end

local function snapshot(step)
  for _i, image in pairs(dt.collection) do
    local fields = { step, image.filename, tostring(image.rating) }
    for _j, tag in ipairs(dt.tags.get_tags(image)) do
      if tag.name:match("^photorank|") then fields[#fields + 1] = tag.name end
    end
    line(table.unpack(fields))
  end
end

local function wait_for(what, seconds, done)
  for _i = 1, seconds * 4 do
    if done() then return true end
    dt.control.sleep(250)
  end
  line("timeout", what)
  return false
end

local function show_only(item, data)
  local rule = dt.gui.libs.collect.new_rule()
  rule.mode = "DT_LIB_COLLECT_MODE_AND"
  rule.item = item
  rule.data = data
  dt.gui.libs.collect.filter({ rule })
end

local ok, err = pcall(function()
  local folder
  local count = 0
  local started = now()
  for path in io.lines(env("PR_LIST")) do
    local image = dt.database.import(path)
    folder = image.path
    count = count + 1
  end
  show_only("DT_COLLECTION_PROP_FILMROLL", folder)
  wait_for("collection", 30, function() return #dt.collection == count end)
  timed("import", started)
  snapshot("imported")

  local reference
  for _i, image in pairs(dt.collection) do
    if image.filename == env("PR_REFERENCE") then reference = image end
    if image.filename == env("PR_USER_RATED") then image.rating = 3 end
    if image.filename == env("PR_REJECTED") then image.rating = -1 end
  end
  snapshot("before")

  -- the plugin is installed as the README says (lua/contrib, `require` in luarc) and its
  -- preferences (person, command, no daemon) are in darktablerc: require gives the loaded one
  assert(package.loaded["contrib/photorank"], "luarc did not load the plugin")
  local plugin = require "contrib/photorank"
  dt.gui.libs.photorank.expanded = true

  -- only the reference selected: the plugin ranks the rest of the collection
  dt.control.execute(env("PR_POINTER_AWAY"))
  dt.gui.selection({ reference })
  local memory = dt.configuration.config_dir .. "/photorank/ratings.lua"
  started = now()
  local shown = plugin.panel().reference
  dt.gui.action("lua/photorank rank for this person", 0, "", "", 1.0)
  -- the plugin writes its memory of ratings once the ranking is applied
  wait_for("ranking", 3600, function()
    local file = io.open(memory)
    if file then file:close() end
    if file == nil and plugin.panel().reference ~= shown then
      shown = plugin.panel().reference
      line("panel", "while ranking", shown) -- the reference named before photorank is done
    end
    return file ~= nil
  end)
  timed("rank", started)
  line("panel", "after ranking", plugin.panel().reference)
  line("toast", "after ranking", plugin.panel().status)
  snapshot("ranked")
  -- the sidecars darktable wrote, as they are now (the test's temp paths hold no quote)
  dt.control.execute("cp -p '" .. folder .. "'/*.xmp '" .. env("PR_SNAPSHOT") .. "'")

  if env("PR_SCREENSHOT") then
    -- the ranked collection: the photos carrying the person's tags, best rated first
    show_only("DT_COLLECTION_PROP_TAG", "photorank|" .. env("PR_PERSON") .. "|%")
    dt.gui.selection({})
    dt.control.sleep(3000)
    line("screenshot", tostring(dt.control.execute("import -window root '" .. env("PR_SCREENSHOT") .. "'")))
    show_only("DT_COLLECTION_PROP_FILMROLL", folder)
    wait_for("collection", 30, function() return #dt.collection == count end)
  end

  if env("PR_SET_PREFIX") then
    -- the set's people were kept by "set reference" (darktablerc); nothing selected: the plugin
    -- ranks the collection (the references aside) for the set
    dt.gui.selection({})
    dt.control.execute(env("PR_POINTER_AWAY"))
    started = now()
    dt.gui.action("lua/photorank rank for these people", 0, "", "", 1.0)
    wait_for("ranking together", 3600, function()
      for _i, image in pairs(dt.collection) do
        for _j, tag in ipairs(dt.tags.get_tags(image)) do
          if tag.name:find(env("PR_SET_PREFIX"), 1, true) == 1 then return true end
        end
      end
      return false
    end)
    dt.control.sleep(1000) -- the plugin saves its memory of ratings after the last tag
    timed("rank together", started)
    snapshot("together")
  end

  local everything = {}
  for _i, image in pairs(dt.collection) do everything[#everything + 1] = image end
  dt.gui.selection(everything)
  dt.control.execute(env("PR_POINTER_AWAY"))
  dt.control.sleep(500)
  started = now()
  dt.gui.action("lua/photorank undo", 0, "", "", 1.0)
  -- undo empties the plugin's memory of ratings when it is done
  wait_for("undo", 600, function()
    local file = io.open(memory)
    local text = file and file:read("a") or ""
    if file then file:close() end
    return not text:find("[", 1, true)
  end)
  timed("undo", started)
  snapshot("undone")
end)
line("done", tostring(ok), tostring(err))
report:close()
dt.gui.action("global/quit", 0, "", "", 1.0)
