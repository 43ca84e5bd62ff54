-- A stand-in for darktable's Lua API (9.0), enough for photorank.lua to load and run under
-- busted: it records registrations and keeps images, tags and preferences in tables.

local fake = {}

function fake.new(config_dir)
  local dt = { registered = { libs = {}, actions = {}, events = {} }, printed = {}, executed = {}, jobs = {} }

  dt.configuration = {
    config_dir = config_dir, tmp_dir = "/tmp", api_version_string = "9.0.0",
    api_version_major = 9, api_version_minor = 0, api_version_patch = 0,
    check_version = function() return true end,
  }
  dt.gettext = {
    bindtextdomain = function() end,
    dgettext = function(_, msgid) return msgid end,
  }

  local prefs = {}
  dt.preferences = {
    register = function(module, name) dt.registered.preference = module .. "/" .. name end,
    read = function(module, name, kind)
      local value = prefs[module .. "/" .. name]
      if value == nil then
        if kind == "bool" then return false end
        if kind == "string" then return "" end
        return 0
      end
      return value
    end,
    write = function(module, name, _, value) prefs[module .. "/" .. name] = value end,
  }

  dt.new_widget = function(kind)
    return function(fields)
      fields.kind = kind
      return fields
    end
  end

  -- images and tags
  dt.images = {}
  function dt.add_image(path, filename, rating)
    local image = { path = path, filename = filename, rating = rating or 1, duplicate_index = 0, tags = {} }
    table.insert(dt.images, image)
    return image
  end

  local tags = {}
  local function tag_count(tag)
    local n = 0
    for _, image in ipairs(dt.images) do
      if image.tags[tag.name] then n = n + 1 end
    end
    return n
  end
  local tag_meta = { __len = tag_count }
  dt.tags = {
    created = 0,
    create = function(name)
      if not tags[name] then
        tags[name] = setmetatable({ name = name }, tag_meta)
        dt.tags.created = dt.tags.created + 1
      end
      return tags[name]
    end,
    find = function(name) return tags[name] end,
    attach = function(tag, image) image.tags[tag.name] = true end,
    detach = function(tag, image) image.tags[tag.name] = nil end,
    delete = function(tag) tags[tag.name] = nil end,
    get_tags = function(image)
      local out = {}
      for name in pairs(image.tags) do table.insert(out, tags[name]) end
      table.sort(out, function(a, b) return a.name < b.name end)
      return out
    end,
  }

  dt.collection = dt.images
  dt.gui = {
    views = { lighttable = "lighttable" },
    hovered = nil,
    action_images = {},
    libs = {
      image = {
        register_action = function(name, label, callback)
          dt.registered.actions[name] = { label = label, callback = callback }
        end,
        destroy_action = function(name) dt.registered.actions[name] = nil end,
      },
    },
    create_job = function(label, _, cancel)
      local job = { label = label, valid = true, cancel = cancel, percents = {} }
      -- percent is not a field of the table, so every write of it is recorded
      setmetatable(job, { __newindex = function(t, k, v)
        if k == "percent" then table.insert(t.percents, v) else rawset(t, k, v) end
      end })
      table.insert(dt.jobs, job)
      return job
    end,
  }
  dt.control = {
    read = function() end, -- a real read waits for data; the pipe is readable at once here
    execute = function(command)
      table.insert(dt.executed, command)
      return os.execute(command)
    end,
  }
  dt.register_lib = function(name, label, expandable, resetable, views, widget)
    dt.registered.libs[name] = { label = label, widget = widget }
    dt.gui.libs[name] = { visible = true }
  end
  dt.register_event = function(name, event, callback)
    dt.registered.events[name .. "/" .. event] = callback
  end
  dt.destroy_event = function(name, event) dt.registered.events[name .. "/" .. event] = nil end
  dt.print = function(message) table.insert(dt.printed, message) end
  dt.print_error = function() end
  return dt
end

--- Loads plugin_lua/photorank.lua against a fresh fake; returns script_data and the fake.
function fake.load_plugin(config_dir)
  local dt = fake.new(config_dir)
  package.loaded["darktable"] = dt
  local script_data = dofile("photorank.lua")
  return script_data, dt
end

return fake
