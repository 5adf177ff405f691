<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>AppState</name>
    <message>
        <location filename="../../app/state.py" line="146"/>
        <source>Could not connect</source>
        <translation>无法连接</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="147"/>
        <source>{0} is this app&apos;s own server: chatting through it would unload the model it serves, and it would then have none. Load a model here instead, or give another computer&apos;s server.</source>
        <translation>{0} 是本应用自己的服务器：通过它聊天会卸载它正在提供的模型，之后它就没有模型可用了。请在这里加载模型，或填写另一台计算机上的服务器。</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="168"/>
        <source>Connecting to {0}…</source>
        <translation>正在连接 {0}…</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="169"/>
        <source>Loading {0}…</source>
        <translation>正在加载 {0}…</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="175"/>
        <source>Could not load {0}</source>
        <translation>无法加载 {0}</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="187"/>
        <source>Connected to {0} in {1} s</source>
        <translation>已连接 {0}，用时 {1} 秒</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="189"/>
        <source>Model loaded in {0} s</source>
        <translation>模型已加载，用时 {0} 秒</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="197"/>
        <source>“{0}” was written with {1}: it stays in the list, for that model. New chats use {2}.</source>
        <translation>“{0}”是用 {1} 写的：它仍留在列表中，供那个模型使用。新对话使用 {2}。</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="209"/>
        <source>Now {0} (was {1}): “{2}” goes on from its saved state</source>
        <translation>现为 {0}（原为 {1}）：“{2}”从其保存的状态继续</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="220"/>
        <source>New chats start from {0}</source>
        <translation>新对话从 {0} 开始</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="221"/>
        <source>State tuning off</source>
        <translation>已关闭状态微调</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="254"/>
        <source>Resumed from saved state in {0} ms — nothing re-read</source>
        <translation>已在 {0} 毫秒内从保存的状态恢复，无需重新读取</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="284"/>
        <source>Reply edited: the old one is the branch beside it</source>
        <translation>回复已编辑：旧回复是旁边的分支</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="294"/>
        <source>Message deleted</source>
        <translation>消息已删除</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="338"/>
        <source>Branch restored from its saved state in {0} ms</source>
        <translation>已在 {0} 毫秒内从保存的状态恢复分支</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="378"/>
        <source>Saved the conversation and its state to {0}</source>
        <translation>已将对话及其状态保存到 {0}</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="387"/>
        <source>Exported the conversation to {0}</source>
        <translation>已将对话导出到 {0}</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="250"/>
        <location filename="../../app/state.py" line="425"/>
        <location filename="../../app/state.py" line="500"/>
        <source>Generating…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="401"/>
        <source>Loaded “{0}” from {1}</source>
        <translation>已从 {1} 载入“{0}”</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="508"/>
        <source>Reading the prompt… {0} of {1} tokens</source>
        <translation>正在读取提示词… {0} / {1} token</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="520"/>
        <source> — stopped</source>
        <translation> — 已停止</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="522"/>
        <source>{0} tokens in {1} s ({2} tokens/s), after reading {3} prompt tokens in {4} s</source>
        <translation>{0} token，用时 {1} 秒（{2} token/秒），此前读取提示 {3} token 用时 {4} 秒</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="527"/>
        <source>{0} tokens in {1} s ({2} tokens/s)</source>
        <translation>{0} token，用时 {1} 秒（{2} token/秒）</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="531"/>
        <source>Stopped before the reply began</source>
        <translation>在回复开始前已停止</translation>
    </message>
</context>
<context>
    <name>ChatPage</name>
    <message>
        <location filename="../../app/chat_page.py" line="38"/>
        <source>RWKV-7 G1 reasoning: think first, answer directly, or off for other models</source>
        <translation>RWKV-7 G1 推理：先思考、直接回答，其他模型请关闭</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="41"/>
        <source>off</source>
        <translation>关</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="41"/>
        <source>think</source>
        <translation>思考</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="42"/>
        <source>no-think</source>
        <translation>不思考</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="43"/>
        <source>think a bit</source>
        <translation>稍作思考</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="44"/>
        <source>think a lot</source>
        <translation>深入思考</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="70"/>
        <source>Plain completion</source>
        <translation>纯文本续写</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="71"/>
        <source>The model continues a text as it is, without the chat template</source>
        <translation>模型按原样续写文本，不使用对话模板</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="72"/>
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="73"/>
        <source>Sampling, reply length and system prompt of this conversation</source>
        <translation>此对话的采样、回复长度和系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="75"/>
        <source>Think:</source>
        <translation>思考：</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="83"/>
        <source>System prompt for a new chat (optional)</source>
        <translation>新对话的系统提示词（可选）</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="86"/>
        <source>Message (Enter sends, Shift+Enter for a new line)</source>
        <translation>消息（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="90"/>
        <location filename="../../app/chat_page.py" line="356"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="91"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="92"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="93"/>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="94"/>
        <location filename="../../app/chat_page.py" line="216"/>
        <source>Let the last reply go on where it stopped</source>
        <translation>让上一条回复从停下的地方继续</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="197"/>
        <source>Think modes are for RWKV-7 G0/G1 models; the server&apos;s model “{0}” is not named as one, and a model not trained on them would garble its replies</source>
        <translation>思考模式仅适用于 RWKV-7 G0/G1 模型；服务器上的模型“{0}”的名称不表明它是其中之一，未受过这些模式训练的模型会回复得语无伦次</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="200"/>
        <source>Think modes are for RWKV-7 G0/G1 models; this model was not trained on them and would garble its replies</source>
        <translation>思考模式适用于 RWKV-7 G0/G1 模型；此模型未针对其训练，使用会让回复错乱</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="301"/>
        <source>Save reply</source>
        <translation>保存回复</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="302"/>
        <source>Editing the reply: Enter saves it as a new branch, Esc cancels</source>
        <translation>正在编辑回复：Enter 保存为新分支，Esc 取消</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="304"/>
        <source>Resend</source>
        <translation>重新发送</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="305"/>
        <source>Editing: Enter resends as a new branch, Esc cancels</source>
        <translation>正在编辑：Enter 作为新分支重新发送，Esc 取消</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="324"/>
        <source>There is no reply to copy yet</source>
        <translation>还没有可复制的回复</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="328"/>
        <source>Copied the message</source>
        <translation>已复制消息</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="337"/>
        <source>Wait for the reply to finish (or stop it) before deleting</source>
        <translation>请等待回复完成（或停止它）后再删除</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="340"/>
        <source>Delete this message? This cannot be undone.</source>
        <translation>删除这条消息？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="341"/>
        <source>Delete this message and the {0} message(s) after it, on every branch? This cannot be undone.</source>
        <translation>删除这条消息及其后所有分支上的 {0} 条消息？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="343"/>
        <source>Delete message</source>
        <translation>删除消息</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="387"/>
        <source>Copied 1 line of code</source>
        <translation>已复制 1 行代码</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="388"/>
        <source>Copied {0} lines of code</source>
        <translation>已复制 {0} 行代码</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="392"/>
        <source>Open link</source>
        <translation>打开链接</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="393"/>
        <source>Open this address in your browser?

{0}</source>
        <translation>在浏览器中打开此地址？

{0}</translation>
    </message>
</context>
<context>
    <name>ChatSettingsPanel</name>
    <message>
        <location filename="../../app/chat_settings.py" line="52"/>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="55"/>
        <source>Temperature:</source>
        <translation>温度：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="56"/>
        <source>Higher is more varied; 0 always picks the likeliest token</source>
        <translation>越高越多样；0 总是选择可能性最大的 token</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="58"/>
        <source>Top-p:</source>
        <translation>Top-p：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="59"/>
        <source>Only the likeliest tokens that together reach this probability</source>
        <translation>只取可能性最大、合计达到此概率的 token</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="61"/>
        <source>Presence penalty:</source>
        <translation>存在惩罚：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="62"/>
        <source>Lowers tokens that already appeared</source>
        <translation>降低已出现过的 token 的概率</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="63"/>
        <source>Frequency penalty:</source>
        <translation>频率惩罚：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="64"/>
        <source>Lowers tokens by how often they appeared</source>
        <translation>按出现次数降低 token 的概率</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="65"/>
        <source>Penalty decay:</source>
        <translation>惩罚衰减：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="66"/>
        <source>How fast old tokens&apos; penalties fade (per token)</source>
        <translation>旧 token 的惩罚消退的速度（每个 token）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="80"/>
        <source>A starting point for the values below</source>
        <translation>下方数值的起点</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="83"/>
        <source>Preset:</source>
        <translation>预设：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="84"/>
        <source>Save as preset…</source>
        <translation>另存为预设…</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="85"/>
        <source>Keep the values below under a name of your own, for any conversation</source>
        <translation>以自己起的名字保存下面的数值，供任何对话使用</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="87"/>
        <location filename="../../app/chat_settings.py" line="295"/>
        <source>Delete preset</source>
        <translation>删除预设</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="88"/>
        <source>Forget the chosen preset of your own (conversations that use it keep their values)</source>
        <translation>删除所选的自定义预设（使用它的对话保留各自的数值）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="107"/>
        <source>off</source>
        <translation>关</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="108"/>
        <source>Only the k likeliest tokens (off: no limit)</source>
        <translation>只取可能性最大的 k 个 token（关：不限制）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="110"/>
        <source>Top-k:</source>
        <translation>Top-k：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="112"/>
        <source>The longest a reply may be, in tokens (Continue goes on past it)</source>
        <translation>回复的最大长度，以 token 计（“继续”可超出）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="114"/>
        <source>Max reply length:</source>
        <translation>最大回复长度：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="116"/>
        <source>The model&apos;s own</source>
        <translation>模型自带</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="119"/>
        <source>The role names around each turn: User/Assistant for RWKV World and G1, Bob/Alice for RWKV-4 Raven; from the next message on</source>
        <translation>每轮对话前后的角色名：RWKV World 和 G1 用 User/Assistant，RWKV-4 Raven 用 Bob/Alice；从下一条消息起生效</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="122"/>
        <source>Chat roles:</source>
        <translation>对话角色：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="123"/>
        <source>Instructions the model reads before the chat (optional)</source>
        <translation>模型在对话前读取的指示（可选）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="127"/>
        <source>Apply system prompt</source>
        <translation>应用系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="128"/>
        <source>A chat that has begun continues in a new branch under the new prompt; the old branch stays</source>
        <translation>已开始的对话会在新提示词下以新分支继续；旧分支保留</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="135"/>
        <source>&lt;b&gt;This conversation&lt;/b&gt;</source>
        <translation>&lt;b&gt;此对话&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="137"/>
        <source>System prompt:</source>
        <translation>系统提示词：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="172"/>
        <source>Changes apply from the next reply.</source>
        <translation>更改从下一条回复起生效。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="173"/>
        <source>These settings are kept with the conversation.</source>
        <translation>这些设置随对话一起保存。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="228"/>
        <source>{0} (yours)</source>
        <translation>{0}（我的）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="230"/>
        <source>A preset of your own</source>
        <translation>你自己的预设</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="244"/>
        <location filename="../../app/chat_settings.py" line="263"/>
        <location filename="../../app/chat_settings.py" line="265"/>
        <source>Save as preset</source>
        <translation>另存为预设</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="245"/>
        <source>A name for these values:</source>
        <translation>为这些数值起个名字：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="261"/>
        <source>A preset needs a name.</source>
        <translation>预设需要一个名字。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="262"/>
        <source>“{0}” is a built-in name in the Preset box: choose another name.</source>
        <translation>“{0}”是预设列表中的内置名称：请换一个名字。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="266"/>
        <source>Replace your preset “{0}” with these values?</source>
        <translation>用这些数值替换你的预设“{0}”吗？</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="287"/>
        <source>Saved the preset “{0}”</source>
        <translation>已保存预设“{0}”</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="296"/>
        <source>Delete your preset “{0}”? Conversations that use it keep their values.</source>
        <translation>删除你的预设“{0}”吗？使用它的对话会保留各自的数值。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="309"/>
        <source>Deleted the preset “{0}”</source>
        <translation>已删除预设“{0}”</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../app/chat_view.py" line="22"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="22"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="23"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="70"/>
        <source>Ask the model something. Your conversation and its state are saved.</source>
        <translation>向模型提问吧。你的对话及其状态都会被保存。</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="210"/>
        <source>copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="210"/>
        <source>edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="210"/>
        <source>regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="210"/>
        <source>delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="222"/>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="222"/>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="223"/>
        <source>edited</source>
        <translation>已编辑</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="223"/>
        <source>cut at the reply length limit (Continue goes on)</source>
        <translation>已达回复长度上限而截断（“继续”可接着写）</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="226"/>
        <source> · prompt {0} tokens, {1} from the server&apos;s state cache</source>
        <translation> · 提示词 {0} token，其中 {1} 来自服务器的状态缓存</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="228"/>
        <source>{0} tokens · {1} tokens/s</source>
        <translation>{0} token · {1} token/秒</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="234"/>
        <source>stopped before the model read it: not part of the conversation (Regenerate to answer it)</source>
        <translation>在模型读取前已停止：不属于对话（点“重新生成”来回答它）</translation>
    </message>
    <message>
        <location filename="../../app/markup.py" line="75"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
</context>
<context>
    <name>CompletionPanel</name>
    <message>
        <location filename="../../app/completion_panel.py" line="40"/>
        <source>Write the beginning of a text: the model continues it as it is, with no chat roles around it.</source>
        <translation>写下一段文本的开头：模型会按原样续写，不加对话角色。</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="41"/>
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="42"/>
        <source>Continue the text (Ctrl+Enter), with this conversation&apos;s sampling settings and reply length</source>
        <translation>续写文本（Ctrl+Enter），使用此对话的采样设置和回复长度</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="44"/>
        <location filename="../../app/completion_panel.py" line="100"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="73"/>
        <source>Writing…</source>
        <translation>正在续写…</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="88"/>
        <source>Plain completion needs a model on this computer.</source>
        <translation>纯文本续写需要本机上的模型。</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="99"/>
        <source>the end of the text</source>
        <translation>文本结束</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="99"/>
        <source>the length limit</source>
        <translation>长度上限</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="101"/>
        <source>{0} tokens in {1:.1f} s, ended by {2}</source>
        <translation>{0} token，用时 {1:.1f} 秒，结束原因：{2}</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="102"/>
        <source>The completion failed (see the message).</source>
        <translation>续写失败（见消息）。</translation>
    </message>
</context>
<context>
    <name>DataFolder</name>
    <message>
        <location filename="../../app/data_folder.py" line="61"/>
        <source>{error}

It has been set aside, unchanged, as
{moved}
(with its states beside it), so nothing in it is lost.

Start with an empty conversation list here, or choose another folder?</source>
        <translation>{error}

它已原样移到一旁，保存为
{moved}
（其状态文件也在旁边），其中的内容都不会丢失。

要在这里以空的对话列表重新开始，还是选择其他文件夹？</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="66"/>
        <source>{error}

Choose another folder for your conversations, or quit.</source>
        <translation>{error}

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="69"/>
        <source>The data folder &apos;{folder}&apos; cannot be written ({error}).

Choose another folder for your conversations, or quit.</source>
        <translation>无法写入数据文件夹“{folder}”（{error}）。

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="87"/>
        <source>RWKV Desktop: conversations</source>
        <translation>RWKV Desktop：对话</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="88"/>
        <source>Start fresh</source>
        <translation>重新开始</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="89"/>
        <source>Choose another folder…</source>
        <translation>选择其他文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="90"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="99"/>
        <source>A folder for your conversations</source>
        <translation>选择存放对话的文件夹</translation>
    </message>
</context>
<context>
    <name>DownloadRow</name>
    <message>
        <location filename="../../app/downloads.py" line="149"/>
        <source>{0} of {1}</source>
        <translation>{0} / {1}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="153"/>
        <source> · {0} left</source>
        <translation> · 剩余 {0}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="157"/>
        <source>Paused at {0}</source>
        <translation>已暂停于 {0}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="158"/>
        <source>Waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="162"/>
        <source>Cancelled; the partial file was deleted</source>
        <translation>已取消；部分下载的文件已删除</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="163"/>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="164"/>
        <source>Downloaded and verified ({0}): it is in the library</source>
        <translation>已下载并校验（{0}）：已在模型库中</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="185"/>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="186"/>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="187"/>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="188"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="189"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="191"/>
        <location filename="../../app/downloads.py" line="221"/>
        <source>Remove from the list</source>
        <translation>从列表中移除</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="218"/>
        <source>Remove from the list; the part downloaded so far stays, and downloading the file again resumes it</source>
        <translation>从列表中移除；已下载的部分会保留，再次下载该文件时从中断处继续</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="220"/>
        <source>Remove from the list (the file stays in the library)</source>
        <translation>从列表中移除（文件仍在模型库中）</translation>
    </message>
</context>
<context>
    <name>DownloadsPanel</name>
    <message>
        <location filename="../../app/downloads.py" line="237"/>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="239"/>
        <source>Clear finished</source>
        <translation>清除已结束的</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="240"/>
        <source>Remove the downloads that are done, failed or cancelled from the list (files and kept parts stay on disk)</source>
        <translation>从列表中移除已完成、失败或已取消的下载（文件和保留的部分仍在磁盘上）</translation>
    </message>
</context>
<context>
    <name>FirstRunCard</name>
    <message>
        <location filename="../../app/first_run.py" line="42"/>
        <source>Welcome to RWKV Desktop</source>
        <translation>欢迎使用 RWKV Desktop</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="44"/>
        <source>&lt;h2&gt;Welcome to RWKV Desktop&lt;/h2&gt;</source>
        <translation>&lt;h2&gt;欢迎使用 RWKV Desktop&lt;/h2&gt;</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="46"/>
        <source>RWKV Desktop chats with RWKV language models on this computer: your conversations never leave it, and each one is resumed from its saved state in milliseconds, however long it is.</source>
        <translation>RWKV Desktop 在这台电脑上与 RWKV 语言模型对话：你的对话从不离开本机，且无论多长，每个对话都能在几毫秒内从保存的状态恢复。</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="49"/>
        <source>The model loaded now is a &lt;b&gt;tiny demo&lt;/b&gt; that only knows word definitions (ask it what “harbor” means). For real conversations, download a model.</source>
        <translation>当前加载的是一个&lt;b&gt;微型演示&lt;/b&gt;模型，只会解释英文单词（问它“harbor”是什么意思）。要真正对话，请下载一个模型。</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="53"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="56"/>
        <source>Recommended for {where}: &lt;b&gt;{name}&lt;/b&gt; ({size})</source>
        <translation>为{where}推荐：&lt;b&gt;{name}&lt;/b&gt;（{size}）</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="60"/>
        <source>No official RWKV-7 model fits {where}; the Models page lists smaller and older ones.</source>
        <translation>没有适合{where}的官方 RWKV-7 模型；“模型”页列出了更小和更早的模型。</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="62"/>
        <source>Show the models</source>
        <translation>查看模型</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="64"/>
        <source>Open a model file…</source>
        <translation>打开模型文件…</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="65"/>
        <source>A .pth or .safetensors RWKV model you already have (File ▸ Open model… later)</source>
        <translation>你已有的 .pth 或 .safetensors RWKV 模型（以后可用 文件 ▸ 打开模型…）</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="67"/>
        <source>Not now</source>
        <translation>以后再说</translation>
    </message>
    <message>
        <location filename="../../app/first_run.py" line="68"/>
        <source>Don&apos;t show this again</source>
        <translation>不再显示</translation>
    </message>
</context>
<context>
    <name>HubSearch</name>
    <message>
        <location filename="../../app/hub_search.py" line="49"/>
        <source>a name to search for, e.g. rwkv7, g1, world, a user name</source>
        <translation>要搜索的名称，例如 rwkv7、g1、world 或用户名</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="51"/>
        <source>Search Hugging Face</source>
        <translation>搜索 Hugging Face</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="54"/>
        <source>Repository / file</source>
        <translation>仓库 / 文件</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="54"/>
        <source>Generation</source>
        <translation>代</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="54"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="55"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="55"/>
        <source>Downloads</source>
        <translation>下载量</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="60"/>
        <source>Find RWKV models that the list above does not have; files are checked against the sha256 the Hub lists for them.</source>
        <translation>查找上方列表中没有的 RWKV 模型；文件会按 Hub 列出的 sha256 校验。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="63"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="80"/>
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="92"/>
        <source>{repo}
{likes} likes, updated {date}
tags: {tags}</source>
        <translation>{repo}
{likes} 个赞，更新于 {date}
标签：{tags}</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="96"/>
        <source>{n} RWKV repositories found; open one to see its files.</source>
        <translation>找到 {n} 个 RWKV 仓库；展开一个可查看其文件。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="97"/>
        <source>No RWKV repositories match “{query}”.</source>
        <translation>没有与“{query}”匹配的 RWKV 仓库。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="106"/>
        <source>Listing the files of {repo}…</source>
        <translation>正在列出 {repo} 的文件…</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="122"/>
        <source>{repo}: {n} files to download.</source>
        <translation>{repo}：{n} 个可下载的文件。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="124"/>
        <source>{n} left out (hover for why).</source>
        <translation>{n} 个未列出（悬停查看原因）。</translation>
    </message>
</context>
<context>
    <name>LocalServer</name>
    <message>
        <location filename="../../app/local_server.py" line="118"/>
        <source>The server could not start: {error}</source>
        <translation>服务器无法启动：{error}</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="121"/>
        <source>Could not start the local server</source>
        <translation>无法启动本地服务器</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="124"/>
        <source>Serving at {url}</source>
        <translation>正在 {url} 提供服务</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/window.py" line="49"/>
        <source>RWKV models (*.pth *.safetensors);;All files (*)</source>
        <translation>RWKV 模型 (*.pth *.safetensors);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="52"/>
        <source>State-tuning files (*.pth *.state *.safetensors);;All files (*)</source>
        <translation>状态微调文件 (*.pth *.state *.safetensors);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="80"/>
        <location filename="../../app/window.py" line="221"/>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="84"/>
        <source>Where the model runs, and in which precision</source>
        <translation>模型在哪里运行，以何种精度运行</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="89"/>
        <location filename="../../app/window.py" line="142"/>
        <source>Clear state tuning</source>
        <translation>清除状态微调</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="90"/>
        <source>New chats start from the model&apos;s own state again (chats begun with the tuning keep it)</source>
        <translation>新对话重新从模型自身的状态开始（用微调开始的对话保留微调）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="108"/>
        <source>Chat</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="109"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="110"/>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="111"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="125"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="127"/>
        <source>Remote server (OpenAI-compatible)…</source>
        <translation>远程服务器（OpenAI 兼容）…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="128"/>
        <source>Chat with a model that a server runs: RWKV Desktop&apos;s, Ai00, llama.cpp, Ollama…</source>
        <translation>与服务器上运行的模型对话：RWKV Desktop、Ai00、llama.cpp、Ollama…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="129"/>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="131"/>
        <source>Open model folder…</source>
        <translation>打开模型文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="133"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="134"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="135"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="136"/>
        <source>Save conversation and state…</source>
        <translation>保存对话和状态…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="138"/>
        <source>Load conversation and state…</source>
        <translation>加载对话和状态…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="140"/>
        <source>Apply state-tuning file…</source>
        <translation>应用状态微调文件…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="145"/>
        <source>Export as Markdown…</source>
        <translation>导出为 Markdown…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="147"/>
        <source>Export as JSON…</source>
        <translation>导出为 JSON…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="159"/>
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="160"/>
        <source>Search conversations and messages</source>
        <translation>搜索对话和消息</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="162"/>
        <source>Copy last reply</source>
        <translation>复制最后一条回复</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="165"/>
        <source>Edit last message</source>
        <translation>编辑最后一条消息</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="166"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="172"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="173"/>
        <location filename="../../app/window.py" line="401"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="174"/>
        <location filename="../../app/window.py" line="421"/>
        <source>About RWKV Desktop</source>
        <translation>关于 RWKV Desktop</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="180"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="209"/>
        <source>{0} on {1}</source>
        <translation>{1} 上的 {0}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="211"/>
        <source>Remote: the server&apos;s state cache reads only each new turn</source>
        <translation>远程：服务器的状态缓存只读取每一轮新内容</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="212"/>
        <source>Remote: every message resends the chat</source>
        <translation>远程：每条消息都会重新发送整个对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="214"/>
        <source>State {0} MiB</source>
        <translation>状态 {0} MiB</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="215"/>
        <source>The whole chat lives in a state of this size: constant, whatever the length of the chat</source>
        <translation>整个对话都保存在这样大小的状态中：无论对话多长，大小不变</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="226"/>
        <source>&lt;b&gt;{0}&lt;/b&gt; — remote server {1}</source>
        <translation>&lt;b&gt;{0}&lt;/b&gt; — 远程服务器 {1}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="233"/>
        <source> · state tuning: {0}</source>
        <translation> · 状态微调：{0}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="235"/>
        <source>&lt;b&gt;{0}&lt;/b&gt; — RWKV-{1}, {2}M parameters · {3} {4}{5}</source>
        <translation>&lt;b&gt;{0}&lt;/b&gt; — RWKV-{1}，{2}M 参数 · {3} {4}{5}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="247"/>
        <source>On the server</source>
        <translation>在服务器上</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="255"/>
        <source>needs ~{0} GiB · </source>
        <translation>需要约 {0} GiB · </translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="261"/>
        <source>  (does not fit)</source>
        <translation>  （放不下）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="265"/>
        <source> (measured on another model here, until this one is measured)</source>
        <translation>（在本机用另一个模型测得，直到测量了此模型为止）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="279"/>
        <source>Open an RWKV model</source>
        <translation>打开 RWKV 模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="287"/>
        <source>Open a Hugging Face model folder</source>
        <translation>打开 Hugging Face 模型文件夹</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="322"/>
        <source>Apply a state-tuning file</source>
        <translation>应用状态微调文件</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="334"/>
        <source>Load a model first: a state-tuning file belongs to one model</source>
        <translation>请先加载模型：状态微调文件属于某一个模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="342"/>
        <source>Open a conversation to save it</source>
        <translation>请先打开一个对话再保存</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="345"/>
        <source>Save conversation and state</source>
        <translation>保存对话和状态</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="346"/>
        <source>RWKV Desktop conversations (*.rwkvchat)</source>
        <translation>RWKV Desktop 对话 (*.rwkvchat)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="355"/>
        <source>Open a conversation to export it</source>
        <translation>请先打开一个对话再导出</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="357"/>
        <source>Markdown (*.md)</source>
        <translation>Markdown (*.md)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="358"/>
        <source>JSON (*.json)</source>
        <translation>JSON (*.json)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="360"/>
        <source>Export the conversation</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="367"/>
        <source>Load conversation and state</source>
        <translation>加载对话和状态</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="368"/>
        <source>RWKV Desktop conversations (*.rwkvchat);;All files (*)</source>
        <translation>RWKV Desktop 对话 (*.rwkvchat);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="386"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="386"/>
        <source>New line</source>
        <translation>换行</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="390"/>
        <source> (in an empty message field)</source>
        <translation>（在空的消息框中）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="392"/>
        <source>Delete the selected conversation (in the list)</source>
        <translation>删除所选对话（在列表中）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="394"/>
        <source>Undo a deletion</source>
        <translation>撤销删除</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="395"/>
        <source>Generate (plain completion)</source>
        <translation>生成（纯文本续写）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="396"/>
        <source>Next field</source>
        <translation>下一个输入框</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="411"/>
        <source>&lt;h3&gt;RWKV Desktop {0}&lt;/h3&gt;&lt;p&gt;Runs RWKV language models on this computer: chats stay here, with their states.&lt;/p&gt;&lt;p&gt;&lt;b&gt;Data folder&lt;/b&gt; (conversations, states, settings):&lt;br&gt;{1}&lt;/p&gt;&lt;p&gt;&lt;b&gt;Licences&lt;/b&gt;: RWKV Desktop is under the Apache License 2.0. It uses Qt for Python (PySide6, LGPL-3.0), PyTorch (BSD-3-Clause), Hugging Face tokenizers, safetensors and huggingface_hub (Apache-2.0), Pygments (BSD-2-Clause), NumPy (BSD-3-Clause), Starlette and Uvicorn (BSD-3-Clause). RWKV models are published by their authors under their own licences (the official RWKV-7 models: Apache-2.0).&lt;/p&gt;</source>
        <translation>&lt;h3&gt;RWKV Desktop {0}&lt;/h3&gt;&lt;p&gt;在这台电脑上运行 RWKV 语言模型：对话及其状态都保存在本机。&lt;/p&gt;&lt;p&gt;&lt;b&gt;数据文件夹&lt;/b&gt;（对话、状态、设置）：&lt;br&gt;{1}&lt;/p&gt;&lt;p&gt;&lt;b&gt;许可证&lt;/b&gt;：RWKV Desktop 采用 Apache License 2.0。它使用了 Qt for Python（PySide6，LGPL-3.0）、PyTorch（BSD-3-Clause）、Hugging Face tokenizers、safetensors 和 huggingface_hub（Apache-2.0）、Pygments（BSD-2-Clause）、NumPy（BSD-3-Clause）、Starlette 和 Uvicorn（BSD-3-Clause）。RWKV 模型由其作者以各自的许可证发布（官方 RWKV-7 模型：Apache-2.0）。&lt;/p&gt;</translation>
    </message>
</context>
<context>
    <name>ModelsPage</name>
    <message>
        <location filename="../../app/models_page.py" line="50"/>
        <source>Official</source>
        <translation>官方</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="50"/>
        <source>Global</source>
        <translation>多语言</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="51"/>
        <source>CN</source>
        <translation>中文</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="51"/>
        <source>JP</source>
        <translation>日文</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="52"/>
        <source>Finetuned</source>
        <translation>微调</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="52"/>
        <source>Raven</source>
        <translation>Raven</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="53"/>
        <source>Recommended</source>
        <translation>推荐</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="53"/>
        <source>Reasoning</source>
        <translation>推理</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="54"/>
        <source>Music</source>
        <translation>音乐</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="54"/>
        <source>Role Play</source>
        <translation>角色扮演</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="55"/>
        <source>Function Call</source>
        <translation>函数调用</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="94"/>
        <source>Models on this computer</source>
        <translation>本机上的模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="96"/>
        <location filename="../../app/models_page.py" line="129"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="96"/>
        <location filename="../../app/models_page.py" line="129"/>
        <source>Generation</source>
        <translation>代</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="96"/>
        <location filename="../../app/models_page.py" line="129"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="97"/>
        <source>Precision</source>
        <translation>精度</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="97"/>
        <location filename="../../app/models_page.py" line="130"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="97"/>
        <source>Fits</source>
        <translation>能否放下</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="97"/>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="101"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="102"/>
        <source>Open file…</source>
        <translation>打开文件…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="103"/>
        <source>Open folder…</source>
        <translation>打开文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="105"/>
        <source>Load a Hugging Face model folder (config.json and its weight files)</source>
        <translation>加载 Hugging Face 模型文件夹（config.json 及其权重文件）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="106"/>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="107"/>
        <source>Add a folder to search for models; they appear in this list</source>
        <translation>添加一个查找模型的文件夹；其中的模型会出现在此列表中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="108"/>
        <source>Rescan</source>
        <translation>重新扫描</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="109"/>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="110"/>
        <source>Delete the selected model from disk (you are asked first)</source>
        <translation>从磁盘删除所选模型（会先询问）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="113"/>
        <source>Remote server…</source>
        <translation>远程服务器…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="114"/>
        <source>Chat with a model that an OpenAI-compatible server runs (RWKV Desktop&apos;s, Ai00, llama.cpp, Ollama…)</source>
        <translation>与 OpenAI 兼容服务器上运行的模型对话（RWKV Desktop、Ai00、llama.cpp、Ollama…）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="125"/>
        <location filename="../../app/models_page.py" line="136"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="130"/>
        <source>Tags</source>
        <translation>标签</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="134"/>
        <source>Older generations (RWKV-4, 5, 6)</source>
        <translation>较早的代（RWKV-4、5、6）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="149"/>
        <source>Official models</source>
        <translation>官方模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="150"/>
        <source>Search Hugging Face</source>
        <translation>搜索 Hugging Face</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="152"/>
        <source>State library</source>
        <translation>状态库</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="174"/>
        <source>Add a folder of models</source>
        <translation>添加模型文件夹</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="227"/>
        <source>  (loaded)</source>
        <translation>（已加载）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="232"/>
        <source>Opened from a file; add its folder (Add folder…) to keep it in the list</source>
        <translation>从文件打开；添加它所在的文件夹（添加文件夹…）可让它一直留在列表中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="234"/>
        <source>not usable</source>
        <translation>不可用</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="283"/>
        <source>The demo model comes with the app and cannot be deleted</source>
        <translation>演示模型随应用附带，无法删除</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="286"/>
        <source>{name} is loaded: load another model before deleting it</source>
        <translation>{name} 已加载：请先加载其他模型再删除它</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="292"/>
        <source>RWKV Desktop downloaded it; you can download it again later.</source>
        <translation>它是 RWKV Desktop 下载的；以后可以再次下载。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="294"/>
        <source>It is in the Hugging Face cache, which other programs share: they will not find it either.</source>
        <translation>它在 Hugging Face 缓存中，其他程序也共用此缓存：它们也将找不到它。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="297"/>
        <source>RWKV Desktop did not download it: it is your own file in {folder}. It is deleted, not moved to the trash.</source>
        <translation>它不是 RWKV Desktop 下载的：它是你在 {folder} 中的文件。它会被直接删除，而不是移到回收站。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="299"/>
        <source>Delete model</source>
        <translation>删除模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="300"/>
        <source>Delete {name}{amount} from disk?</source>
        <translation>从磁盘删除 {name}{amount}？</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="304"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="318"/>
        <source>Could not delete {name}: {error}</source>
        <translation>无法删除 {name}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="323"/>
        <source>Deleted {name}; {gb:.2f} GB freed</source>
        <translation>已删除 {name}；释放了 {gb:.2f} GB</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="342"/>
        <source>this computer</source>
        <translation>这台电脑</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="345"/>
        <source>this computer&apos;s CPU ({0} RAM)</source>
        <translation>这台电脑的 CPU（{0} 内存）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="351"/>
        <source>★ Recommended for {0}: &lt;b&gt;{1}&lt;/b&gt;</source>
        <translation>★ 为{0}推荐：&lt;b&gt;{1}&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="352"/>
        <source>No official RWKV-7 model fits {0}; the smallest ones may still run slowly.</source>
        <translation>没有适合{0}的官方 RWKV-7 模型；最小的模型或许仍能缓慢运行。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="355"/>
        <source>Bigger models would answer slower than {0} tokens/s on a typical CPU ({1} GB/s memory bandwidth assumed); they are in the list below.</source>
        <translation>更大的模型在普通 CPU 上回答速度会低于 {0} token/秒（按 {1} GB/s 内存带宽估算）；它们在下方列表中。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="427"/>
        <source>{0} downloaded and verified; it is in the library</source>
        <translation>{0} 已下载并校验；已在模型库中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="432"/>
        <source>Download of {0} failed: {1}</source>
        <translation>{0} 下载失败：{1}</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="463"/>
        <source>No device was detected</source>
        <translation>未检测到任何设备</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="467"/>
        <source>fits {0}: needs ~{1} GiB in {2}, {3} GiB there</source>
        <translation>{0} 放得下：{2} 精度需要约 {1} GiB，该设备有 {3} GiB</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="468"/>
        <source>does not fit {0}: needs ~{1} GiB in {2}, {3} GiB there</source>
        <translation>{0} 放不下：{2} 精度需要约 {1} GiB，该设备有 {3} GiB</translation>
    </message>
</context>
<context>
    <name>PrecisionProbe</name>
    <message>
        <location filename="../../app/precision_probe.py" line="121"/>
        <source>Measuring which precision runs fastest on this computer…</source>
        <translation>正在测量哪种精度在这台电脑上运行最快…</translation>
    </message>
    <message>
        <location filename="../../app/precision_probe.py" line="125"/>
        <source>Could not measure the precisions: {error}</source>
        <translation>无法测量精度：{error}</translation>
    </message>
    <message>
        <location filename="../../app/precision_probe.py" line="133"/>
        <source>Measured decode speed against fp32 here: {speeds}</source>
        <translation>本机测得的解码速度（相对 fp32）：{speeds}</translation>
    </message>
</context>
<context>
    <name>RemoteDialog</name>
    <message>
        <location filename="../../app/remote_dialog.py" line="34"/>
        <source>&lt;b&gt;RWKV Desktop&apos;s server.&lt;/b&gt; Every message resends the conversation, and the server&apos;s state cache reads only the new turn, so long chats stay quick. Save/load state and state tuning need a model on this computer.</source>
        <translation>&lt;b&gt;RWKV Desktop 的服务器。&lt;/b&gt;每条消息都会重新发送整段对话，而服务器的状态缓存只需读取新的一轮，因此长对话依然很快。保存/加载状态和状态微调需要在本机加载模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="38"/>
        <source>&lt;b&gt;An OpenAI-compatible server.&lt;/b&gt; Every message resends the whole conversation, which the server reads again. Continue, think modes, save/load state and state tuning are off.</source>
        <translation>&lt;b&gt;OpenAI 兼容服务器。&lt;/b&gt;每条消息都会重新发送整段对话，由服务器重新读取。续写、思考模式、保存/加载状态和状态微调均不可用。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="48"/>
        <source>Remote server (OpenAI-compatible)</source>
        <translation>远程服务器（OpenAI 兼容）</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="51"/>
        <source>The API&apos;s base address: …/v1 for most servers (RWKV Desktop, llama.cpp, Ollama), …/api/oai/v1 for Ai00</source>
        <translation>API 的基础地址：大多数服务器（RWKV Desktop、llama.cpp、Ollama）为 …/v1，Ai00 为 …/api/oai/v1</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="53"/>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="55"/>
        <source>Sent as &apos;Authorization: Bearer KEY&apos; to this address&apos;s host only</source>
        <translation>以“Authorization: Bearer KEY”的形式发送，且只发给该地址的主机</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="56"/>
        <source>List models</source>
        <translation>列出模型</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="68"/>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="72"/>
        <source>URL:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="73"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="76"/>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="105"/>
        <source>Choose a model.</source>
        <translation>请选择一个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="115"/>
        <source>Could not connect; see the message.</source>
        <translation>无法连接，请查看提示信息。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="130"/>
        <source>Enter the server&apos;s address and press &lt;b&gt;List models&lt;/b&gt;.</source>
        <translation>输入服务器地址，然后点击&lt;b&gt;列出模型&lt;/b&gt;。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="133"/>
        <source>{url}: 1 model.</source>
        <translation>{url}：1 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="133"/>
        <source>{url}: {n} models.</source>
        <translation>{url}：{n} 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="134"/>
        <source>{count} {kind}</source>
        <translation>{count}{kind}</translation>
    </message>
</context>
<context>
    <name>ServerPage</name>
    <message>
        <location filename="../../app/server_page.py" line="40"/>
        <source>Serve the loaded model to other apps (OpenAI-compatible API)</source>
        <translation>向其他应用提供已加载的模型（OpenAI 兼容 API）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="44"/>
        <source>The port other apps connect to (8000 unless another program uses it)</source>
        <translation>其他应用连接的端口（默认 8000，除非已被其他程序占用）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="46"/>
        <source>optional on this computer; needed for other computers</source>
        <translation>仅本机使用时可不填；供其他电脑访问时必填</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="48"/>
        <source>Apps must send it as &apos;Authorization: Bearer KEY&apos; (the openai client&apos;s api_key)</source>
        <translation>应用须以“Authorization: Bearer KEY”的形式发送（即 openai 客户端的 api_key）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="50"/>
        <source>Allow other computers (listens on every network address; needs the API key)</source>
        <translation>允许其他电脑访问（监听所有网络地址；需要 API 密钥）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="52"/>
        <source>(the server is off)</source>
        <translation>（服务器未开启）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="53"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="54"/>
        <source>Copy the URL: use it as base_url in OpenAI clients</source>
        <translation>复制地址：在 OpenAI 客户端中用作 base_url</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="61"/>
        <source>Local server</source>
        <translation>本地服务器</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="64"/>
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="65"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="67"/>
        <source>URL:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="70"/>
        <source>Requests</source>
        <translation>请求</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Endpoint</source>
        <translation>接口</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Prompt tokens (cached)</source>
        <translation>提示词 token（已缓存）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Reply tokens</source>
        <translation>回复 token</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Tokens/s</source>
        <translation>token/秒</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="76"/>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="78"/>
        <source>Counts only: prompts and replies are never logged.</source>
        <translation>只记录数量：从不记录提示词和回复的内容。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="110"/>
        <source>Stop the server to change this</source>
        <translation>停止服务器后才能修改</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="120"/>
        <source>Off. When on, apps written for OpenAI (the openai library, editors, chat front ends) can use the model loaded here, while you keep chatting.</source>
        <translation>已关闭。开启后，为 OpenAI 编写的应用（openai 库、编辑器、聊天前端）可以使用这里加载的模型，你也可以同时继续对话。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="123"/>
        <source>API key {key}</source>
        <translation>API 密钥 {key}</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="125"/>
        <source>no API key</source>
        <translation>无 API 密钥</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="127"/>
        <source>On for other computers too ({key}).</source>
        <translation>已开启，其他电脑也可访问（{key}）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="129"/>
        <source>On for apps on this computer ({key}).</source>
        <translation>已开启，供本机应用使用（{key}）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="131"/>
        <source>No model is loaded: requests get 503 until one is.</source>
        <translation>尚未加载模型：加载之前，请求将返回 503。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="133"/>
        <source>The chats use a remote server now: load a model on this computer to serve it (until then requests get 503).</source>
        <translation>对话目前使用远程服务器：请在本机加载模型以提供服务（在此之前，请求将返回 503）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="136"/>
        <source>Serving &lt;b&gt;{model}&lt;/b&gt;.</source>
        <translation>正在提供 &lt;b&gt;{model}&lt;/b&gt;。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="138"/>
        <source>{on} {served}</source>
        <translation>{on}{served}</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="147"/>
        <source>Copied the server&apos;s URL</source>
        <translation>已复制服务器地址</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="158"/>
        <source>client left</source>
        <translation>客户端已断开</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="160"/>
        <source>{status} (stream)</source>
        <translation>{status}（流式）</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <location filename="../../app/settings_page.py" line="40"/>
        <source>A Hugging Face mirror, e.g. https://hf-mirror.com; empty for the Hub itself (or HF_ENDPOINT)</source>
        <translation>Hugging Face 镜像，例如 https://hf-mirror.com；留空则使用 Hub 本身（或 HF_ENDPOINT）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="46"/>
        <source>the Hugging Face cache (default)</source>
        <translation>Hugging Face 缓存（默认）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="50"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="57"/>
        <source>Add…</source>
        <translation>添加…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="58"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="64"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="64"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="64"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="70"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="72"/>
        <source>Hub endpoint (mirror):</source>
        <translation>Hub 地址（镜像）：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="74"/>
        <source>Download folder:</source>
        <translation>下载文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="76"/>
        <source>Model folders:</source>
        <translation>模型文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="78"/>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="80"/>
        <source>Theme:</source>
        <translation>主题：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="81"/>
        <source>Text size:</source>
        <translation>文字大小：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="82"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="84"/>
        <source>Hardware</source>
        <translation>硬件</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="135"/>
        <source>Download models to</source>
        <translation>将模型下载到</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="149"/>
        <source>{0}%</source>
        <translation>{0}%</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="150"/>
        <source>The size of the conversation&apos;s text, the message field and the plain completion (Ctrl+= larger, Ctrl+- smaller, Ctrl+0 default, or Ctrl+wheel over the chat)</source>
        <translation>对话文字、消息输入框和纯续写文本的大小（Ctrl+= 放大，Ctrl+- 缩小，Ctrl+0 恢复默认，或在对话上按住 Ctrl 滚动滚轮）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="155"/>
        <source>Reset</source>
        <translation>重置</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="157"/>
        <source>Back to the default size ({0}%)</source>
        <translation>恢复默认大小（{0}%）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="177"/>
        <source>System ({language})</source>
        <translation>跟随系统（{language}）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="192"/>
        <location filename="../../app/settings_page.py" line="195"/>
        <source>Restart RWKV Desktop to use the new language.</source>
        <translation>重启 RWKV Desktop 后即可使用新语言。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="204"/>
        <source>{size} GiB RAM</source>
        <translation>{size} GiB 内存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="205"/>
        <source>{size} GiB VRAM</source>
        <translation>{size} GiB 显存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="207"/>
        <source> ({size} GiB free)</source>
        <translation>（可用 {size} GiB）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="208"/>
        <source>, {n} cores</source>
        <translation>，{n} 核</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="209"/>
        <source>, {flags}</source>
        <translation>，{flags}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="210"/>
        <source>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}, {memory}{features}; precisions {precisions}</source>
        <translation>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}，{memory}{features}；精度 {precisions}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="213"/>
        <source>No devices were detected.</source>
        <translation>未检测到任何设备。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="221"/>
        <source>“{folder}” is not a whole path: write it from the top (for example {example}). Not saved.</source>
        <translation>“{folder}”不是完整路径：请从根目录写起（例如 {example}）。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="225"/>
        <source>“{folder}” is a file, not a folder. Not saved.</source>
        <translation>“{folder}”是文件，不是文件夹。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="230"/>
        <source>The folder “{folder}” cannot be created: {reason}. Not saved.</source>
        <translation>无法创建文件夹“{folder}”：{reason}。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="236"/>
        <source>Files cannot be written in “{folder}”: {reason}. Not saved.</source>
        <translation>无法在“{folder}”中写入文件：{reason}。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="247"/>
        <source>“{text}” has no scheme: write https://{text} (or http://…) so it is clear how to reach it. Not saved.</source>
        <translation>“{text}”没有协议：请写成 https://{text}（或 http://…），以明确如何访问。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="250"/>
        <source>A mirror is an http:// or https:// address; “{text}” is not. Not saved.</source>
        <translation>镜像应是 http:// 或 https:// 地址；“{text}”不是。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="253"/>
        <source>“{text}” names no host. Not saved.</source>
        <translation>“{text}”没有主机名。未保存。</translation>
    </message>
</context>
<context>
    <name>Sidebar</name>
    <message>
        <location filename="../../app/sidebar.py" line="58"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="59"/>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="75"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="77"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="84"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="194"/>
        <source>Deleted “{0}”</source>
        <translation>已删除“{0}”</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="211"/>
        <source>Restored</source>
        <translation>已恢复</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="217"/>
        <source>Rename conversation</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="217"/>
        <source>Title:</source>
        <translation>标题：</translation>
    </message>
</context>
<context>
    <name>StateLibrary</name>
    <message>
        <location filename="../../app/state_library.py" line="45"/>
        <source>State-tuning file</source>
        <translation>状态微调文件</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="45"/>
        <source>Shape</source>
        <translation>形状</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="45"/>
        <source>For the models</source>
        <translation>适用的模型</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="46"/>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="50"/>
        <source>Use with the loaded model</source>
        <translation>用于已加载的模型</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="80"/>
        <source>Select a state-tuning file in the list first</source>
        <translation>请先在列表中选择一个状态微调文件</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="88"/>
        <source>New chats start from this state (File ▸ Clear state tuning undoes it)</source>
        <translation>新对话从此状态开始（文件 ▸ 清除状态微调 可撤销）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="54"/>
        <source>State-tuning files found in the download folder and your model folders.</source>
        <translation>在下载文件夹和你的模型文件夹中找到的状态微调文件。</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="65"/>
        <source>Find state-tuning files that the list above does not have; files are checked against the sha256 the Hub lists for them.</source>
        <translation>查找上方列表中没有的状态微调文件；文件会按 Hub 列出的 sha256 校验。</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="102"/>
        <source> (loaded)</source>
        <translation>（已加载）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="105"/>
        <source>{gen}{layers} layers × {width}</source>
        <translation>{gen}{layers} 层 × {width}</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="107"/>
        <source>no model here has this shape</source>
        <translation>本机没有此形状的模型</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="109"/>
        <source>Models with {layers} layers of width {width} ({heads} heads of {size})</source>
        <translation>{layers} 层、宽度 {width} 的模型（{heads} 个头，每个 {size}）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="82"/>
        <location filename="../../app/state_library.py" line="84"/>
        <location filename="../../app/state_library.py" line="121"/>
        <source>Load the model this state belongs to first</source>
        <translation>请先加载此状态所属的模型</translation>
    </message>
</context>
<context>
    <name>TextSize</name>
    <message>
        <location filename="../../app/text_size.py" line="133"/>
        <source>Larger text</source>
        <translation>放大文字</translation>
    </message>
    <message>
        <location filename="../../app/text_size.py" line="135"/>
        <source>Smaller text</source>
        <translation>缩小文字</translation>
    </message>
    <message>
        <location filename="../../app/text_size.py" line="137"/>
        <source>Default text size</source>
        <translation>默认文字大小</translation>
    </message>
</context>
<context>
    <name>engine</name>
    <message>
        <location filename="../../app/engine_texts.py" line="8"/>
        <source>&apos;{file}&apos; has no &apos;blocks.N.&apos; tensors, so it holds no RWKV layers.</source>
        <translation>“{file}”中没有“blocks.N.”张量，因此不含任何 RWKV 层。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="9"/>
        <source>&apos;{file}&apos; has {layers} blocks numbered up to {last} (e.g. &apos;{stray}&apos;), but block {gap} is missing: blocks are numbered 0, 1, 2, ... without gaps, so the file is damaged or altered.</source>
        <translation>“{file}”有 {layers} 个块，编号最大到 {last}（例如“{stray}”），但缺少块 {gap}：块应按 0、1、2……连续编号，因此该文件已损坏或被改动。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="10"/>
        <source>&apos;{file}&apos; is not a consistent {label} checkpoint: {what}.</source>
        <translation>“{file}”不是一致的 {label} 检查点：{what}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="11"/>
        <source>&apos;{file}&apos; looks like {label} but {count} tensors are missing ({shown}); the file is incomplete or from an unsupported variant.</source>
        <translation>“{file}”看起来是 {label}，但缺少 {count} 个张量（{shown}）；文件不完整，或属于不受支持的变体。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="12"/>
        <source>&apos;{file}&apos;: &apos;{key}&apos; has shape {shape}, but an {label} checkpoint stores it with {ndim} dimensions, none of them 0.</source>
        <translation>“{file}”：“{key}”的形状为 {shape}，但 {label} 检查点中它应有 {ndim} 个维度，且均不为 0。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="13"/>
        <source>&apos;{file}&apos;: &apos;{key}&apos; has shape {shape}, but this {label} model needs {want} ({names}); the file is damaged or altered.</source>
        <translation>“{file}”：“{key}”的形状为 {shape}，但此 {label} 模型需要 {want}（{names}）；文件已损坏或被改动。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="14"/>
        <source>&apos;{file}&apos;: &apos;{key}&apos; is {dtype}, but {label} weights are float32, float16 or bfloat16; the file is damaged or was converted wrongly (quantised files are not read: load a float file with precision int8, q5 or q4 instead).</source>
        <translation>“{file}”：“{key}”是 {dtype}，但 {label} 的权重应为 float32、float16 或 bfloat16；文件已损坏或转换有误（不读取量化文件：请改为加载浮点文件，并选择 int8、q5 或 q4 精度）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="15"/>
        <source>&apos;{folder}/config.json&apos; cannot be read ({error}).</source>
        <translation>无法读取“{folder}/config.json”（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="16"/>
        <source>&apos;{folder}/{index}&apos; is damaged ({error}).</source>
        <translation>“{folder}/{index}”已损坏（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="17"/>
        <source>&apos;{folder}/{index}&apos; names a weight file outside its folder ({bad}); it was refused without reading anything.</source>
        <translation>“{folder}/{index}”指向其文件夹之外的权重文件（{bad}）；已拒绝，未读取任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="18"/>
        <source>&apos;{name}&apos; cannot be read as a model index ({kind}: {error}).</source>
        <translation>无法将“{name}”读取为模型索引（{kind}：{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="19"/>
        <source>&apos;{name}&apos; cannot be used: RWKV-{generation} models have no matrix state, and state-tuning files set one (they exist for RWKV-5, -6 and -7 models).</source>
        <translation>无法使用“{name}”：RWKV-{generation} 模型没有矩阵状态，而状态微调文件设置的正是矩阵状态（仅适用于 RWKV-5、-6 和 -7 模型）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="20"/>
        <source>&apos;{name}&apos; contains pickled Python objects other than tensors, which could run code, so it was refused without being executed. Official RWKV checkpoints hold tensors only; get the file from a trusted source, or convert it to .safetensors.</source>
        <translation>“{name}”包含张量以外的 pickle Python 对象，可能会运行代码，因此已被拒绝且未执行。官方 RWKV 检查点只包含张量；请从可信来源获取该文件，或将其转换为 .safetensors。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="21"/>
        <source>&apos;{name}&apos; could not be read completely ({error}). The file is probably truncated; download it again.</source>
        <translation>无法完整读取“{name}”（{error}）。文件可能不完整；请重新下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="22"/>
        <source>&apos;{name}&apos; describes tensors of impossible shapes ({error}).</source>
        <translation>“{name}”描述的张量形状不可能成立（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="23"/>
        <source>&apos;{name}&apos; does not hold a flat set of named tensors, so it is not an RWKV model file.</source>
        <translation>“{name}”不是一组扁平的具名张量，因此不是 RWKV 模型文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="24"/>
        <source>&apos;{name}&apos; does not hold a flat set of named tensors.</source>
        <translation>“{name}”不是一组扁平的具名张量。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="25"/>
        <source>&apos;{name}&apos; ends inside its header ({size:,} bytes): it is truncated. If it was downloaded, download it again.</source>
        <translation>“{name}”在文件头内就结束了（{size:,} 字节）：文件不完整。如果是下载的，请重新下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="26"/>
        <source>&apos;{name}&apos; ends inside its header: it is truncated.</source>
        <translation>“{name}”在文件头内就结束了：文件不完整。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="27"/>
        <source>&apos;{name}&apos; has a broken safetensors header ({reason}).</source>
        <translation>“{name}”的 safetensors 文件头已损坏（{reason}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="28"/>
        <source>&apos;{name}&apos; has a broken safetensors header: tensor &apos;{key}&apos; has no valid shape and dtype.</source>
        <translation>“{name}”的 safetensors 文件头已损坏：张量“{key}”没有有效的形状和数据类型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="29"/>
        <source>&apos;{name}&apos; has a damaged conversation in it ({error}).</source>
        <translation>“{name}”中的对话已损坏（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="30"/>
        <source>&apos;{name}&apos; has a damaged conversation in it: its state has read {tokens} tokens, but the messages up to the one it belongs to hold {held}.</source>
        <translation>“{name}”中的对话已损坏：其状态已读取 {tokens} 个 token，但到它所属的那条消息为止，消息中共有 {held} 个。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="31"/>
        <source>&apos;{name}&apos; has a damaged conversation in it: message {message} holds the token id {token}, and the model&apos;s vocabulary ends at {last}.</source>
        <translation>“{name}”中的对话已损坏：消息 {message} 含有 token id {token}，而模型的词表只到 {last}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="32"/>
        <source>&apos;{name}&apos; has a merged tuned state, but &apos;{bad}&apos; is missing or not [{heads}, {head_size}, {head_size}]; the merge is broken.</source>
        <translation>“{name}”含有合并进来的微调状态，但“{bad}”缺失或形状不是 [{heads}, {head_size}, {head_size}]；合并已损坏。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="33"/>
        <source>&apos;{name}&apos; has a safetensors header that describes no valid tensors, so it is not a model file.</source>
        <translation>“{name}”的 safetensors 文件头没有描述任何有效张量，因此不是模型文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="34"/>
        <source>&apos;{name}&apos; has a safetensors header that is a JSON {kind}, not an index of tensors.</source>
        <translation>“{name}”的 safetensors 文件头是 JSON {kind}，而不是张量索引。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="35"/>
        <source>&apos;{name}&apos; has an impossible safetensors header length ({size:,} bytes).</source>
        <translation>“{name}”的 safetensors 文件头长度不可能成立（{size:,} 字节）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="36"/>
        <source>&apos;{name}&apos; has an unreadable checkpoint index ({error}).</source>
        <translation>“{name}”的检查点索引无法读取（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="37"/>
        <source>&apos;{name}&apos; has damaged metadata ({error}); it cannot be used.</source>
        <translation>“{name}”的元数据已损坏（{error}）；无法使用。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="38"/>
        <source>&apos;{name}&apos; has state tensors of mixed shapes or missing layers.</source>
        <translation>“{name}”中的状态张量形状不一，或缺少某些层。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="39"/>
        <source>&apos;{name}&apos; holds &apos;{key}&apos; as {dtype}, not as floating point numbers; it is not a state-tuning file we can use.</source>
        <translation>“{name}”中的“{key}”是 {dtype}，不是浮点数；无法作为状态微调文件使用。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="40"/>
        <source>&apos;{name}&apos; holds a state but no conversation; it was not made by Save conversation and state.</source>
        <translation>“{name}”含有状态但没有对话；它不是由“保存对话和状态”生成的。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="41"/>
        <source>&apos;{name}&apos; holds a {kind}, not a set of named tensors, so it is not an RWKV model file.</source>
        <translation>“{name}”中是一个 {kind}，而不是一组具名张量，因此不是 RWKV 模型文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="42"/>
        <source>&apos;{name}&apos; holds no tensors.</source>
        <translation>“{name}”中没有任何张量。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="43"/>
        <source>&apos;{name}&apos; holds state matrices of shape {shape}, not [H, N, N].</source>
        <translation>“{name}”中状态矩阵的形状为 {shape}，而不是 [H, N, N]。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="45"/>
        <source>&apos;{name}&apos; is a folder, not a state-tuning file.</source>
        <translation>“{name}”是文件夹，不是状态微调文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="46"/>
        <source>&apos;{name}&apos; is a saved conversation cut short ({size:,} bytes): the copy or download probably stopped. Copy it again from where it was saved.</source>
        <translation>“{name}”是一个不完整的已保存对话（{size:,} 字节）：复制或下载可能中途停止了。请从保存的位置重新复制。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="47"/>
        <source>&apos;{name}&apos; is a zip archive but not a PyTorch checkpoint (it has no data.pkl). Open the model&apos;s .pth or .safetensors file itself.</source>
        <translation>“{name}”是 zip 压缩包，但不是 PyTorch 检查点（其中没有 data.pkl）。请直接打开模型的 .pth 或 .safetensors 文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="48"/>
        <source>&apos;{name}&apos; is a zip archive but not a PyTorch checkpoint.</source>
        <translation>“{name}”是 zip 压缩包，但不是 PyTorch 检查点。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="49"/>
        <source>&apos;{name}&apos; is an RWKV-5.0 model (no gate): an early preview of RWKV-5 that RWKV Desktop does not run. Use an RWKV-5.2 (x052) or later model.</source>
        <translation>“{name}”是 RWKV-5.0 模型（无门控）：这是 RWKV-5 的早期预览版，RWKV Desktop 不支持运行。请使用 RWKV-5.2（x052）或更新的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="50"/>
        <source>&apos;{name}&apos; is an RWKV-5.1 model (one decay per head, time_decay {shape}): an early preview of RWKV-5 that RWKV Desktop does not run. Use an RWKV-5.2 (x052) or later model.</source>
        <translation>“{name}”是 RWKV-5.1 模型（每个头一个衰减，time_decay {shape}）：这是 RWKV-5 的早期预览版，RWKV Desktop 不支持运行。请使用 RWKV-5.2（x052）或更新的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="51"/>
        <source>&apos;{name}&apos; is an RWKV-{generation} model, which RWKV Desktop cannot run.</source>
        <translation>“{name}”是 RWKV-{generation} 模型，RWKV Desktop 无法运行。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="52"/>
        <source>&apos;{name}&apos; is damaged or incomplete ({error}).</source>
        <translation>“{name}”已损坏或不完整（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="53"/>
        <source>&apos;{name}&apos; is damaged or incomplete ({size:,} bytes; the end of the archive is missing or broken: {error}). If it was downloaded, download it again.</source>
        <translation>“{name}”已损坏或不完整（{size:,} 字节；压缩包末尾缺失或损坏：{error}）。如果是下载的，请重新下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="54"/>
        <source>&apos;{name}&apos; is damaged: its contents no longer match the checksum written when it was saved (a disk or copy error changed it). It cannot be used; resume from an earlier state.</source>
        <translation>“{name}”已损坏：其内容与保存时写入的校验和不再一致（磁盘或复制错误改动了它）。无法使用；请从更早的状态继续。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="55"/>
        <source>&apos;{name}&apos; is empty (0 bytes): the download probably failed.</source>
        <translation>“{name}”是空文件（0 字节）：下载可能失败了。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="56"/>
        <source>&apos;{name}&apos; is in a Hugging Face layout that RWKV Desktop does not know (it reads fla-hub RWKV-7 and transformers&apos; RWKV-4 folders); open the original RWKV .pth file instead.</source>
        <translation>“{name}”采用了 RWKV Desktop 不认识的 Hugging Face 布局（它能读取 fla-hub 的 RWKV-7 和 transformers 的 RWKV-4 文件夹）；请改为打开原始的 RWKV .pth 文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="57"/>
        <source>&apos;{name}&apos; is named for RWKV-{named}, but the loaded model is RWKV-{generation}; a state-tuning file only works with the model it was tuned on.</source>
        <translation>从名称看，“{name}”用于 RWKV-{named}，但已加载的模型是 RWKV-{generation}；状态微调文件只适用于微调时所用的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="58"/>
        <source>&apos;{name}&apos; is neither a zip-format PyTorch checkpoint nor safetensors.</source>
        <translation>“{name}”既不是 zip 格式的 PyTorch 检查点，也不是 safetensors。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="44"/>
        <source>&apos;{name}&apos; is a GGUF file (llama.cpp&apos;s format), which RWKV Desktop cannot load. Get the model as an official .pth, a .safetensors file or a Hugging Face model folder instead.</source>
        <translation>“{name}”是 GGUF 文件（llama.cpp 的格式），RWKV Desktop 无法加载。请改为获取官方 .pth、.safetensors 文件或 Hugging Face 模型文件夹形式的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="59"/>
        <source>&apos;{name}&apos; is not a model file: it is neither a PyTorch checkpoint nor safetensors (it starts with {head}). RWKV Desktop reads an official .pth, a .safetensors file or a Hugging Face model folder.</source>
        <translation>“{name}”不是模型文件：它既不是 PyTorch 检查点，也不是 safetensors（开头为 {head}）。RWKV Desktop 可读取官方 .pth、.safetensors 文件或 Hugging Face 模型文件夹。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="60"/>
        <source>&apos;{name}&apos; is not a model file: it starts like a Python pickle but cannot be read as one ({error}).</source>
        <translation>“{name}”不是模型文件：开头像 Python pickle，却无法按 pickle 读取（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="61"/>
        <source>&apos;{name}&apos; is not a readable state file ({error}).</source>
        <translation>“{name}”不是可读取的状态文件（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="62"/>
        <source>&apos;{name}&apos; is not a saved conversation (an .rwkvchat file made by File ▸ Save conversation and state).</source>
        <translation>“{name}”不是已保存的对话（即由 文件 ▸ 保存对话和状态 生成的 .rwkvchat 文件）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="63"/>
        <source>&apos;{name}&apos; is not a state name: use 1 to 64 letters, digits, &apos;.&apos;, &apos;_&apos; or &apos;-&apos;, starting with a letter or digit.</source>
        <translation>“{name}”不是有效的状态名称：请使用 1 到 64 个字母、数字、“.”、“_”或“-”，并以字母或数字开头。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="64"/>
        <source>&apos;{name}&apos; is not a state-tuning file: a state-tuning file is an official .pth, an Ai00 .state or a state RWKV Desktop saved, and this is none of them.</source>
        <translation>“{name}”不是状态微调文件：状态微调文件是官方 .pth、Ai00 的 .state 或 RWKV Desktop 保存的状态，而它都不是。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="65"/>
        <source>&apos;{name}&apos; is not a state-tuning file: it has no &apos;blocks.N.att.time_state&apos; tensors, and it is not a state RWKV Desktop saved.</source>
        <translation>“{name}”不是状态微调文件：其中没有“blocks.N.att.time_state”张量，也不是 RWKV Desktop 保存的状态。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="66"/>
        <source>&apos;{name}&apos; is not a state-tuning file: it holds other tensors than &apos;blocks.N.att.time_state&apos;.</source>
        <translation>“{name}”不是状态微调文件：其中含有“blocks.N.att.time_state”以外的张量。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="67"/>
        <source>&apos;{name}&apos; is not a valid safetensors file ({error}).</source>
        <translation>“{name}”不是有效的 safetensors 文件（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="68"/>
        <source>&apos;{name}&apos; is not an RWKV Desktop state file (format: {format}).</source>
        <translation>“{name}”不是 RWKV Desktop 状态文件（格式：{format}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="69"/>
        <source>&apos;{name}&apos; is not an RWKV model: found {count} tensors ({sample}{more}) but none of the keys that RWKV-4 to RWKV-7 checkpoints have (e.g. &apos;blocks.0.att.r_k&apos;).</source>
        <translation>“{name}”不是 RWKV 模型：找到 {count} 个张量（{sample}{more}），但没有 RWKV-4 到 RWKV-7 检查点应有的任何键（例如“blocks.0.att.r_k”）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="70"/>
        <source>&apos;{name}&apos; is truncated: its header describes {expected:,} bytes but the file has {size:,}. If it was downloaded, the download was cut off; download it again.</source>
        <translation>“{name}”不完整：文件头描述了 {expected:,} 字节，但文件只有 {size:,} 字节。如果是下载的，说明下载中断了；请重新下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="71"/>
        <source>&apos;{name}&apos; was exported by a newer RWKV Desktop; update the app to import it.</source>
        <translation>“{name}”由更新版本的 RWKV Desktop 导出；请更新应用后再导入。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="72"/>
        <source>&apos;{name}&apos; was tuned for another model: it has {found} layers of {shapes}, but the loaded model needs {layers} layers of [{heads}, {head_size}, {head_size}]. Use it with the model it was tuned on.</source>
        <translation>“{name}”是为另一个模型微调的：它有 {found} 层 {shapes}，但已加载的模型需要 {layers} 层 [{heads}, {head_size}, {head_size}]。请配合微调时所用的模型使用。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="73"/>
        <source>&apos;{name}&apos; was written by a newer RWKV Desktop (state format {version}); update the app to read it.</source>
        <translation>“{name}”由更新版本的 RWKV Desktop 写入（状态格式 {version}）；请更新应用后再读取。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="74"/>
        <source>&apos;{url}&apos; has a query or fragment; give the API&apos;s base address (…/v1).</source>
        <translation>“{url}”含有查询参数或片段；请填写 API 的基础地址（…/v1）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="75"/>
        <source>&apos;{url}&apos; is not an http:// or https:// address (for example http://host:8000/v1).</source>
        <translation>“{url}”不是 http:// 或 https:// 地址（例如 http://host:8000/v1）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="76"/>
        <source>A reply is being written in this conversation; wait for it or stop it first.</source>
        <translation>此对话正在生成回复；请等待其完成，或先停止它。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="77"/>
        <source>A token list of {size} bytes is damaged (not a multiple of 4).</source>
        <translation>一个 {size} 字节的 token 列表已损坏（不是 4 的倍数）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="78"/>
        <source>Another model</source>
        <translation>另一个模型</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="79"/>
        <source>Another model was chosen while the server was being asked; that one is used.</source>
        <translation>询问服务器期间选择了另一个模型；将使用那个模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="80"/>
        <source>Cannot listen on {host}:{port}: {reason}.</source>
        <translation>无法在 {host}:{port} 上监听：{reason}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="81"/>
        <source>Cannot reach {host}: {error}. Check the address and that the server is running.</source>
        <translation>无法连接 {host}：{error}。请检查地址，并确认服务器正在运行。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="82"/>
        <source>Cannot tell which tokenizer &apos;{name}&apos; needs (vocabulary of {vocab} and no tokenizer.json beside it); name one with --tokenizer.</source>
        <translation>无法判断“{name}”需要哪个分词器（词表大小为 {vocab}，旁边也没有 tokenizer.json）；请用 --tokenizer 指定一个。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="83"/>
        <source>Conversation database</source>
        <translation>对话数据库</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="84"/>
        <source>Conversation not found</source>
        <translation>找不到对话</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="85"/>
        <source>Could not delete the message</source>
        <translation>无法删除消息</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="86"/>
        <source>Could not delete {path}: {error}.</source>
        <translation>无法删除 {path}：{error}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="87"/>
        <source>Could not edit the reply</source>
        <translation>无法编辑回复</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="88"/>
        <source>Could not export the conversation</source>
        <translation>无法导出对话</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="89"/>
        <source>Could not load the conversation</source>
        <translation>无法加载对话</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="90"/>
        <source>Could not load the model</source>
        <translation>无法加载模型</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="91"/>
        <source>Could not open the conversation</source>
        <translation>无法打开对话</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="92"/>
        <source>Could not reach {url} after {failures} tries ({error}). Check the connection or the mirror.</source>
        <translation>尝试 {failures} 次后仍无法连接 {url}（{error}）。请检查网络连接或镜像。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="93"/>
        <source>Could not reach {url}: {error}. Check the connection or the mirror.</source>
        <translation>无法连接 {url}：{error}。请检查网络连接或镜像。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="94"/>
        <source>Could not read tokenizer file {path}: {error}</source>
        <translation>无法读取分词器文件 {path}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="95"/>
        <source>Could not save the conversation</source>
        <translation>无法保存对话</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="96"/>
        <source>Could not save the state</source>
        <translation>无法保存状态</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="97"/>
        <source>Could not search {hub} ({kind}: {error}). Check the connection, or the mirror in Settings.</source>
        <translation>无法搜索 {hub}（{kind}：{error}）。请检查网络连接，或“设置”中的镜像。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="98"/>
        <source>Could not use the remote server</source>
        <translation>无法使用远程服务器</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="99"/>
        <source>Could not use the state-tuning file</source>
        <translation>无法使用状态微调文件</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="100"/>
        <source>Damaged state file</source>
        <translation>状态文件已损坏</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="101"/>
        <source>Download cancelled; the part already downloaded is kept and a retry resumes it.</source>
        <translation>下载已取消；已下载的部分会保留，重试时将接着下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="102"/>
        <source>Downloads are off: the environment this app was started from sets HF_HUB_OFFLINE. Start it without that variable to download.</source>
        <translation>下载已关闭：启动本应用的环境设置了 HF_HUB_OFFLINE。如需下载，请在不设置该变量的情况下启动。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="103"/>
        <source>Empty message</source>
        <translation>空消息</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="104"/>
        <source>Engine stopped</source>
        <translation>引擎已停止</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="105"/>
        <source>File error</source>
        <translation>文件错误</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="106"/>
        <source>Line {number} of vocabulary {source} is damaged: {error}</source>
        <translation>词表 {source} 的第 {number} 行已损坏：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="107"/>
        <source>Needs a model on this computer</source>
        <translation>需要本机上的模型</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="108"/>
        <source>No CUDA or ROCm GPU is available to this build of PyTorch; use device &apos;cpu&apos;.</source>
        <translation>此版本的 PyTorch 无法使用 CUDA 或 ROCm GPU；请使用设备“cpu”。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="109"/>
        <source>No conversation {conversation}: it was never saved or has been purged.</source>
        <translation>没有对话 {conversation}：它从未保存过，或已被彻底删除。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="110"/>
        <source>No file at &apos;{path}&apos;.</source>
        <translation>“{path}”处没有文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="111"/>
        <source>No model at &apos;{text}&apos;: there is no such file or folder, and no bundled model has that name.</source>
        <translation>“{text}”处没有模型：既没有这样的文件或文件夹，也没有同名的内置模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="112"/>
        <source>No model is loaded; load one first.</source>
        <translation>尚未加载模型；请先加载一个。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="113"/>
        <source>No state file at &apos;{path}&apos;.</source>
        <translation>“{path}”处没有状态文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="114"/>
        <source>No tokenizer {name}: it is not one of {names} and there is no file at {path}</source>
        <translation>没有分词器 {name}：它不是 {names} 之一，{path} 处也没有文件</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="115"/>
        <source>Not enough disk space for {filename}: it needs {needed:.1f} GB more, {existing} has {free:.1f} GB free. Free some space or choose another cache folder.</source>
        <translation>磁盘空间不足，无法存放 {filename}：还需要 {needed:.1f} GB，而 {existing} 只有 {free:.1f} GB 可用。请释放一些空间，或选择其他缓存文件夹。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="116"/>
        <source>Not enough memory on {device} to load &apos;{name}&apos; in {precision} (about {gib:.1f} GiB needed). Try a smaller precision or model.</source>
        <translation>{device} 内存不足，无法以 {precision} 精度加载“{name}”（约需 {gib:.1f} GiB）。请尝试更低的精度或更小的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="117"/>
        <source>Not enough memory to read &apos;{name}&apos; ({gib:.2f} GiB). Close other programs or choose a smaller model or a quantised file.</source>
        <translation>内存不足，无法读取“{name}”（{gib:.2f} GiB）。请关闭其他程序，或选择更小的模型或量化文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="118"/>
        <source>Not found (404) while {doing} at {url}. The address must be the API&apos;s base (…/v1; Ai00: …/api/oai/v1), and the model one the server lists.{said}</source>
        <translation>在 {url} 未找到（404，操作：{doing}）。地址必须是 API 的基础地址（…/v1；Ai00 为 …/api/oai/v1），模型也必须是服务器列出的模型之一。{said}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="119"/>
        <source>Nothing to feed the model: a prompt of the batch is empty.</source>
        <translation>没有可输入模型的内容：批次中有一个提示词为空。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="120"/>
        <source>Nothing to feed the model: the batch is empty.</source>
        <translation>没有可输入模型的内容：批次为空。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="121"/>
        <source>Nothing to feed the model: the token list is empty.</source>
        <translation>没有可输入模型的内容：token 列表为空。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="122"/>
        <source>Only replies can be edited this way; a message of yours is edited and resent.</source>
        <translation>只有回复可以这样编辑；你自己的消息请编辑后重新发送。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="123"/>
        <source>Only user messages can be edited and resent.</source>
        <translation>只有用户消息可以编辑并重新发送。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="124"/>
        <source>Only your messages and the replies can be deleted; the system prompt is changed in the chat settings.</source>
        <translation>只能删除你的消息和回复；系统提示词请在对话设置中修改。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="125"/>
        <source>Out of memory</source>
        <translation>内存不足</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="126"/>
        <source>Precision {precision} runs on the CPU only; use fp16 or bf16 on a GPU.</source>
        <translation>{precision} 精度只能在 CPU 上运行；在 GPU 上请使用 fp16 或 bf16。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="127"/>
        <source>Put the API key in its own field, not in the address.</source>
        <translation>请把 API 密钥填在它自己的字段中，不要放在地址里。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="128"/>
        <source>RWKV-{generation} models have no matrix state, so state-tuning files (which set one) cannot be used with them.</source>
        <translation>RWKV-{generation} 模型没有矩阵状态，因此不能使用状态微调文件（它设置的正是矩阵状态）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="129"/>
        <source>Reading the reply from {host} failed: {kind}: {error}</source>
        <translation>读取来自 {host} 的回复失败：{kind}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="130"/>
        <source>Remote server</source>
        <translation>远程服务器</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="131"/>
        <source>Searching the Hub is off: the environment this app was started from sets HF_HUB_OFFLINE. Start it without that variable to search.</source>
        <translation>在 Hub 上搜索已关闭：启动本应用的环境设置了 HF_HUB_OFFLINE。请在不设置该变量的情况下启动应用再搜索。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="132"/>
        <source>The &apos;{backend}&apos; kernels cannot run RWKV-{generation} on {device} in {precision}: {error}. Use backend &apos;auto&apos;.</source>
        <translation>“{backend}”内核无法在 {device} 上以 {precision} 精度运行 RWKV-{generation}：{error}。请使用后端“auto”。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="133"/>
        <source>The 20B (Pile) tokenizer {source} is missing from this installation.</source>
        <translation>此安装中缺少 20B（Pile）分词器 {source}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="134"/>
        <source>The Hub at {hub} could not list {repo}: {error}</source>
        <translation>{hub} 上的 Hub 无法列出 {repo}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="135"/>
        <source>The Hub at {hub} refused the search for {query!r}: {error}</source>
        <translation>{hub} 上的 Hub 拒绝了对 {query!r} 的搜索：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="136"/>
        <source>The World vocabulary cannot encode every byte: no token for {missing}</source>
        <translation>World 词表无法编码所有字节：没有对应 {missing} 的 token</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="137"/>
        <source>The World vocabulary {source} could not be read: {error}</source>
        <translation>无法读取 World 词表 {source}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="138"/>
        <source>The catalog&apos;s sha256 for {filename!r} is not 64 hex digits; it cannot be verified, so it is not downloaded.</source>
        <translation>目录中 {filename!r} 的 sha256 不是 64 位十六进制数；无法校验，因此不会下载。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="139"/>
        <source>The catalog&apos;s {what} {name!r} is not a plain relative name; refusing to build a path from it.</source>
        <translation>目录中的 {what} {name!r} 不是普通的相对名称；拒绝用它构建路径。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="140"/>
        <source>The computer ran out of memory. Close other programs or use a smaller model.</source>
        <translation>电脑内存不足。请关闭其他程序，或使用更小的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="141"/>
        <source>The connection to {host} failed: {error}.</source>
        <translation>与 {host} 的连接失败：{error}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="142"/>
        <source>The conversation database &apos;{database}&apos; is damaged ({error}).</source>
        <translation>对话数据库“{database}”已损坏（{error}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="143"/>
        <source>The conversation database in &apos;{folder}&apos; cannot be opened ({error}). Choose another folder, or make this one writable.</source>
        <translation>无法打开“{folder}”中的对话数据库（{error}）。请选择其他文件夹，或让此文件夹可写。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="144"/>
        <source>The conversation database in &apos;{folder}&apos; is read-only ({error}). Choose another folder, or make this one writable.</source>
        <translation>“{folder}”中的对话数据库是只读的（{error}）。请选择其他文件夹，或让此文件夹可写。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="145"/>
        <source>The conversation database was written by a newer RWKV Desktop (schema {version}, this version knows {known}); update the app to open it.</source>
        <translation>对话数据库由更新版本的 RWKV Desktop 写入（结构版本 {version}，此版本只支持到 {known}）；请更新应用后再打开。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="146"/>
        <source>The conversation store has been closed.</source>
        <translation>对话存储已关闭。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="147"/>
        <source>The data folder &apos;{folder}&apos; cannot be written ({error}). Choose another folder, or make this one writable.</source>
        <translation>无法写入数据文件夹“{folder}”（{error}）。请选择其他文件夹，或让此文件夹可写。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="148"/>
        <source>The download of {filename} stopped at {done:,} of {size:,} bytes ({error}). Check the connection or the mirror; retrying resumes where it stopped.</source>
        <translation>{filename} 的下载在 {done:,} / {size:,} 字节处中断（{error}）。请检查网络连接或镜像；重试会从中断处继续。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="149"/>
        <source>The download of {filename} stopped at {done:,} of {size:,} bytes ({error}; {failures} tries). Retrying resumes where it stopped.</source>
        <translation>{filename} 的下载在 {done:,} / {size:,} 字节处中断（{error}；已尝试 {failures} 次）。重试会从中断处继续。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="150"/>
        <source>The engine does not know the command {command}.</source>
        <translation>引擎不认识命令 {command}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="151"/>
        <source>The engine has shut down.</source>
        <translation>引擎已关闭。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="152"/>
        <source>The folder &apos;{folder}&apos; holds no .pth or .safetensors model file{gguf}.</source>
        <translation>文件夹“{folder}”中没有 .pth 或 .safetensors 模型文件{gguf}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="153"/>
        <source>The folder &apos;{folder}&apos; holds several model files ({names}); pick one.</source>
        <translation>文件夹“{folder}”中有多个模型文件（{names}）；请选择一个。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="154"/>
        <source>The folder &apos;{name}&apos; holds no .safetensors or .bin weight files.</source>
        <translation>文件夹“{name}”中没有 .safetensors 或 .bin 权重文件。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="155"/>
        <source>The last reply is complete; send a message instead.</source>
        <translation>上一条回复已经完整；请改为发送一条消息。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="156"/>
        <source>The message is empty.</source>
        <translation>消息为空。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="157"/>
        <source>The model ({loaded}) is unchanged; new chats start as before.</source>
        <translation>模型（{loaded}）未改变；新对话仍像以前一样开始。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="158"/>
        <source>The model failed</source>
        <translation>模型出错</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="159"/>
        <source>The model folder &apos;{folder}&apos; lacks {count} of its weight files ({files}); the download is incomplete.</source>
        <translation>模型文件夹“{folder}”缺少 {count} 个权重文件（{files}）；下载不完整。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="160"/>
        <source>The model produced invalid numbers (NaN or infinity) instead of predictions, so nothing was generated from them. The model file or the saved state it continued from is probably damaged.</source>
        <translation>模型算出了无效的数值（NaN 或无穷大），而不是预测结果，因此没有据此生成任何内容。模型文件或它所接续的已保存状态可能已损坏。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="161"/>
        <source>The prompt is empty and there is no earlier text to continue from.</source>
        <translation>提示词为空，也没有可以接着续写的前文。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="162"/>
        <source>The reply is empty.</source>
        <translation>回复为空。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="163"/>
        <source>The server at {host} answered with something that is not a chat completion.</source>
        <translation>{host} 上的服务器返回的内容不是对话补全（chat completion）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="164"/>
        <source>The server at {host} answered {status} while {doing}.{said}</source>
        <translation>{host} 上的服务器返回了 {status}（操作：{doing}）。{said}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="165"/>
        <source>The server at {host} did not answer in time ({kind}).</source>
        <translation>{host} 上的服务器未能及时响应（{kind}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="166"/>
        <source>The server at {host} has no model &apos;{model}&apos; (it lists {models}).</source>
        <translation>{host} 上的服务器没有模型“{model}”（它列出的是 {models}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="167"/>
        <source>The server at {host} has {count} models; choose one of {models}.</source>
        <translation>{host} 上的服务器有 {count} 个模型；请从 {models} 中选择一个。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="168"/>
        <source>The server at {host} is busy (429); try again shortly.{said}</source>
        <translation>{host} 上的服务器正忙（429）；请稍后再试。{said}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="169"/>
        <source>The server at {host} lists no models (has it loaded one?).</source>
        <translation>{host} 上的服务器没有列出任何模型（它加载模型了吗？）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="170"/>
        <source>The server at {host} refused the API key (401) while {doing}. Check the key.{said}</source>
        <translation>{host} 上的服务器拒绝了 API 密钥（401，操作：{doing}）。请检查密钥。{said}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="171"/>
        <source>The server at {host} refused the request (403) while {doing}.{said}</source>
        <translation>{host} 上的服务器拒绝了请求（403，操作：{doing}）。{said}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="172"/>
        <source>The server could not start: {error}</source>
        <translation>服务器无法启动：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="173"/>
        <source>The server did not start in time.</source>
        <translation>服务器未能及时启动。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="174"/>
        <source>The server redirects {doing} to {location}; the key is not sent there. Use that address instead if you trust it.</source>
        <translation>服务器将请求（操作：{doing}）重定向到 {location}；密钥不会发送到那里。如果信任该地址，请改用它。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="175"/>
        <source>The server sent something that is not JSON in its stream: {data!r}</source>
        <translation>服务器在流中发送了非 JSON 内容：{data!r}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="176"/>
        <source>The server stopped the reply with an error: {message}</source>
        <translation>服务器因错误停止了回复：{message}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="177"/>
        <source>The stream from {host} broke off: {error}.</source>
        <translation>来自 {host} 的流中断了：{error}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="178"/>
        <source>The stream from {host} ended before the reply did.</source>
        <translation>来自 {host} 的流在回复完成前就结束了。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="179"/>
        <source>The text cannot be tokenized: it holds an unpaired UTF-16 surrogate (\u{code:04x}) at character {at}, which is not valid Unicode.</source>
        <translation>无法对文本分词：第 {at} 个字符处有未配对的 UTF-16 代理项（\u{code:04x}），不是有效的 Unicode。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="180"/>
        <source>There is no message {message} in this conversation.</source>
        <translation>此对话中没有消息 {message}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="181"/>
        <source>There is no message {message} to delete.</source>
        <translation>没有要删除的消息 {message}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="182"/>
        <source>There is no reply to continue.</source>
        <translation>没有可继续的回复。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="183"/>
        <source>There is no state named &apos;{name}&apos; (known: {known}).</source>
        <translation>没有名为“{name}”的状态（已有：{known}）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="184"/>
        <source>There is no unfinished reply to continue; send a message instead.</source>
        <translation>没有未完成的回复可继续；请改为发送一条消息。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="185"/>
        <source>There is no user message to answer.</source>
        <translation>没有需要回答的用户消息。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="186"/>
        <source>This state belongs to another model (RWKV-{generation}, shapes {shapes}); this model needs {expected}.</source>
        <translation>此状态属于另一个模型（RWKV-{generation}，形状 {shapes}）；此模型需要 {expected}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="187"/>
        <source>Token id {token} is outside this model&apos;s vocabulary (0..{last}); the tokenizer does not match the model.</source>
        <translation>token id {token} 超出了此模型的词表范围（0..{last}）；分词器与模型不匹配。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="188"/>
        <source>Unexpected error</source>
        <translation>意外错误</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="189"/>
        <source>Unexpected key &apos;{key}&apos; in a state-tuning file (expected &apos;blocks.N.att.time_state&apos;).</source>
        <translation>状态微调文件中有意外的键“{key}”（应为“blocks.N.att.time_state”）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="190"/>
        <source>Unknown chat template &apos;{override}&apos;; use one of {choices}.</source>
        <translation>未知的对话模板“{override}”；请使用 {choices} 之一。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="191"/>
        <source>Unknown device &apos;{device}&apos;: use &apos;cpu&apos;, &apos;cuda&apos;, &apos;cuda:N&apos; or &apos;auto&apos;.</source>
        <translation>未知设备“{device}”：请使用“cpu”“cuda”“cuda:N”或“auto”。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="192"/>
        <source>Unknown export format &apos;{format}&apos;; use one of {choices}.</source>
        <translation>未知的导出格式“{format}”；请使用 {choices} 之一。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="193"/>
        <source>Unknown kernel backend &apos;{backend}&apos;: use one of {choices}.</source>
        <translation>未知的内核后端“{backend}”：请使用 {choices} 之一。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="194"/>
        <source>Unknown precision &apos;{precision}&apos;.</source>
        <translation>未知精度“{precision}”。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="195"/>
        <source>Unknown precision &apos;{precision}&apos;: use one of {floats} or &apos;auto&apos; (or int8, q5 or q4 on the CPU: 8-, 5- or 4-bit weights, float32 compute).</source>
        <translation>未知精度“{precision}”：请使用 {floats} 之一或“auto”（在 CPU 上还可用 int8、q5 或 q4：8、5 或 4 位权重，float32 计算）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="196"/>
        <source>Unknown think mode &apos;{think}&apos;; use one of {choices}.</source>
        <translation>未知的思考模式“{think}”；请使用 {choices} 之一。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="197"/>
        <source>Vocabulary {source} is empty</source>
        <translation>词表 {source} 为空</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="198"/>
        <source>Wait for the reply to finish (or stop it) before changing the system prompt.</source>
        <translation>请等回复完成（或停止它）后再修改系统提示词。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="199"/>
        <source>Wait for the reply to finish (or stop it) before deleting a message.</source>
        <translation>请等回复完成（或停止它）后再删除消息。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="200"/>
        <source>Wait for the reply to finish (or stop it) before switching branch.</source>
        <translation>请等回复完成（或停止它）后再切换分支。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="201"/>
        <source>Wrong state file</source>
        <translation>状态文件不匹配</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="202"/>
        <source>a ServerThread starts once; make a new one</source>
        <translation>ServerThread 只能启动一次；请新建一个</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="203"/>
        <source>every token is banned; nothing could ever be generated</source>
        <translation>所有 token 都被禁用；无法生成任何内容</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="204"/>
        <source>forward_batch needs one state per token ({tokens} tokens, {states} states).</source>
        <translation>forward_batch 需要每个 token 对应一个状态（{tokens} 个 token，{states} 个状态）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="205"/>
        <source>forward_batch was given the same state twice; each sequence needs its own.</source>
        <translation>forward_batch 收到了同一个状态两次；每个序列都需要自己的状态。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="206"/>
        <source>forward_prompts was given the same state twice; each sequence needs its own.</source>
        <translation>forward_prompts 收到了同一个状态两次；每个序列都需要自己的状态。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="207"/>
        <source>max_batch and prompt_tokens must be at least 1</source>
        <translation>max_batch 和 prompt_tokens 必须至少为 1</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="208"/>
        <source>max_sequences and sequence_memory_mb must be at least 1</source>
        <translation>max_sequences 和 sequence_memory_mb 必须至少为 1</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="209"/>
        <source>no token can be drawn: the logits are NaN or every token is -inf</source>
        <translation>无法抽取任何 token：logits 为 NaN，或所有 token 都是 -inf</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="210"/>
        <source>the checkpoint refers to {module}.{name}, which a tensor file never needs</source>
        <translation>检查点引用了 {module}.{name}，而张量文件从不需要它</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="211"/>
        <source>the conversation or its message list is malformed</source>
        <translation>对话或其消息列表格式有误</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="212"/>
        <source>the server has not started</source>
        <translation>服务器尚未启动</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="213"/>
        <source>the state belongs to no message</source>
        <translation>该状态不属于任何消息</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="214"/>
        <source>unexpected storage reference {pid}</source>
        <translation>意外的存储引用 {pid}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="215"/>
        <source>{commit!r} is not a commit id; it cannot name a snapshot folder.</source>
        <translation>{commit!r} 不是提交 id；不能用作快照文件夹的名称。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="216"/>
        <source>{device} ran out of memory running {prompts} prompts at once; the states are unchanged.</source>
        <translation>{device} 同时运行 {prompts} 个提示词时内存不足；各状态保持不变。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="217"/>
        <source>{device} ran out of memory running {tokens} tokens at once; feed the prompt in smaller chunks or use a smaller precision. The state is unchanged.</source>
        <translation>{device} 一次运行 {tokens} 个 token 时内存不足；请把提示词分成更小的块输入，或使用更低的精度。状态保持不变。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="218"/>
        <source>{filename} arrived damaged or altered (sha256 {digest}, expected {expected}); it was deleted. Download it again, or try another mirror.</source>
        <translation>{filename} 下载后已损坏或被改动（sha256 为 {digest}，应为 {expected}）；已将其删除。请重新下载，或换一个镜像。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="219"/>
        <source>{file} is damaged: {what} holds NaN or infinite values, and a model run from them writes garbage. It cannot be used; use an earlier state, or make it again.</source>
        <translation>{file} 已损坏：{what} 含有 NaN 或无穷大值，从它运行的模型会输出乱码。无法使用；请使用更早的状态，或重新生成。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="220"/>
        <source>{location} answered HTTP {status}.</source>
        <translation>{location} 返回了 HTTP {status}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="221"/>
        <source>{name} comes with the app and cannot be deleted.</source>
        <translation>{name} 随应用附带，无法删除。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="222"/>
        <source>{name} holds &apos;{key}&apos; as {dtype}, but this model keeps it as {expected}; RWKV Desktop never writes it so, so the file is damaged or was made by another program.</source>
        <translation>{name} 中的“{key}”是 {dtype}，但此模型以 {expected} 保存它；RWKV Desktop 从不这样写入，因此该文件已损坏，或由其他程序生成。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="223"/>
        <source>{name} holds its last-token logits as {dtype}, not as floating point numbers; the file is damaged.</source>
        <translation>{name} 中最后一个 token 的 logits 是 {dtype}，不是浮点数；文件已损坏。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="224"/>
        <source>{name} holds last-token logits of shape {shape}, but the loaded model has a vocabulary of {vocab}: the state belongs to another model. Load the model it was saved with.</source>
        <translation>{name} 中最后一个 token 的 logits 形状为 {shape}，但已加载模型的词表大小为 {vocab}：该状态属于另一个模型。请加载保存它时所用的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="225"/>
        <source>{name} is a state for another model: it has {has}, but the loaded model needs {needs}.</source>
        <translation>{name} 是另一个模型的状态：它是 {has}，但已加载的模型需要 {needs}。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="226"/>
        <source>{name} was saved with other weights of the same shape (model fingerprint {fingerprint}, loaded model {expected}); its text would be garbled. Load the model it was saved with.</source>
        <translation>{name} 是用形状相同的另一套权重保存的（模型指纹 {fingerprint}，已加载模型为 {expected}）；接着生成的文字会是乱码。请加载保存它时所用的模型。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="227"/>
        <source>{path} is a folder outside the Hugging Face cache; delete it with your file manager.</source>
        <translation>{path} 是 Hugging Face 缓存之外的文件夹；请用文件管理器删除它。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="228"/>
        <source>{repo!r} is not a Hugging Face repository id (namespace/name).</source>
        <translation>{repo!r} 不是 Hugging Face 仓库 id（namespace/name）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="229"/>
        <source>{repo}/{filename} was not found at {url}: {error}</source>
        <translation>在 {url} 找不到 {repo}/{filename}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="230"/>
        <source>{url} answered HTTP {status}: {error}</source>
        <translation>{url} 返回了 HTTP {status}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="231"/>
        <source>{url} did not answer like a Hugging Face Hub: its commit id (X-Repo-Commit) is {commit}, not 40 hex digits. Check the mirror address; nothing was downloaded.</source>
        <translation>{url} 的响应不像 Hugging Face Hub：其提交 id（X-Repo-Commit）为 {commit}，不是 40 位十六进制数。请检查镜像地址；未下载任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="232"/>
        <source>{url} offers {offered:,} bytes, but the catalog&apos;s {filename} has {size:,}: the mirror holds another version of the file, or is broken. Nothing was downloaded.</source>
        <translation>{url} 提供的是 {offered:,} 字节，但目录中的 {filename} 为 {size:,} 字节：镜像上是该文件的另一个版本，或镜像有问题。未下载任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="233"/>
        <source>{url} points the download at {location}, which is not an http(s) address; nothing was downloaded.</source>
        <translation>{url} 将下载指向 {location}，这不是 http(s) 地址；未下载任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="234"/>
        <source>{url} serves commit {commit}, but the catalog asks for {revision}; nothing was downloaded.</source>
        <translation>{url} 提供的是提交 {commit}，但目录要求的是 {revision}；未下载任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="235"/>
        <source>{url}/models did not answer with a list of models (is it an OpenAI-compatible API? Most servers have it at …/v1, Ai00 at …/api/oai/v1).</source>
        <translation>{url}/models 没有返回模型列表（它是 OpenAI 兼容的 API 吗？大多数服务器的地址是 …/v1，Ai00 是 …/api/oai/v1）。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="236"/>
        <source>“{title}” started from the state-tuning file {file}, which cannot be read now ({error}). Put the file back where it was to continue this conversation.</source>
        <translation>“{title}”是从状态微调文件 {file} 开始的，但现在无法读取该文件（{error}）。请把文件放回原处以继续此对话。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="237"/>
        <source>“{title}” was saved with {model}, and the loaded model {loaded} cannot continue it. {error}</source>
        <translation>“{title}”是用 {model} 保存的，已加载的模型 {loaded} 无法继续它。{error}</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="238"/>
        <source>“{title}” was written with a remote server ({server}); connect to one (File ▸ Remote server) to continue it.</source>
        <translation>“{title}”是用远程服务器（{server}）写的；请连接一个远程服务器（文件 ▸ 远程服务器）以继续。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="239"/>
        <source>“{title}” was written with {model} on this computer, with its states; load that model to continue it.</source>
        <translation>“{title}”是在本机上用 {model} 写的，并带有其状态；请加载该模型以继续。</translation>
    </message>
    <message>
        <location filename="../../app/engine_texts.py" line="240"/>
        <source>“{title}” was written with {model}; load that model to continue it.</source>
        <translation>“{title}”是用 {model} 写的；请加载该模型以继续。</translation>
    </message>
</context>
</TS>
