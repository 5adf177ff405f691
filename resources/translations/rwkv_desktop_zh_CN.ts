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
        <location filename="../../app/state.py" line="249"/>
        <source>Resumed from saved state in {0} ms — nothing re-read</source>
        <translation>已在 {0} 毫秒内从保存的状态恢复，无需重新读取</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="279"/>
        <source>Reply edited: the old one is the branch beside it</source>
        <translation>回复已编辑：旧回复是旁边的分支</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="289"/>
        <source>Message deleted</source>
        <translation>消息已删除</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="333"/>
        <source>Branch restored from its saved state in {0} ms</source>
        <translation>已在 {0} 毫秒内从保存的状态恢复分支</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="373"/>
        <source>Saved the conversation and its state to {0}</source>
        <translation>已将对话及其状态保存到 {0}</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="382"/>
        <source>Exported the conversation to {0}</source>
        <translation>已将对话导出到 {0}</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="415"/>
        <location filename="../../app/state.py" line="485"/>
        <source>Generating…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="493"/>
        <source>Reading the prompt… {0} of {1} tokens</source>
        <translation>正在读取提示词… {0} / {1} token</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="505"/>
        <source> — stopped</source>
        <translation> — 已停止</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="507"/>
        <source>{0} tokens in {1} s ({2} tokens/s), after reading {3} prompt tokens in {4} s</source>
        <translation>{0} token，用时 {1} 秒（{2} token/秒），此前读取提示 {3} token 用时 {4} 秒</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="512"/>
        <source>{0} tokens in {1} s ({2} tokens/s)</source>
        <translation>{0} token，用时 {1} 秒（{2} token/秒）</translation>
    </message>
    <message>
        <location filename="../../app/state.py" line="516"/>
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
        <location filename="../../app/chat_page.py" line="64"/>
        <source>Plain completion</source>
        <translation>纯文本续写</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="65"/>
        <source>The model continues a text as it is, without the chat template</source>
        <translation>模型按原样续写文本，不使用对话模板</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="66"/>
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="67"/>
        <source>Sampling, reply length and system prompt of this conversation</source>
        <translation>此对话的采样、回复长度和系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="69"/>
        <source>Think:</source>
        <translation>思考：</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="77"/>
        <source>System prompt for a new chat (optional)</source>
        <translation>新对话的系统提示词（可选）</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="79"/>
        <source>Message (Enter sends, Shift+Enter for a new line)</source>
        <translation>消息（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="83"/>
        <location filename="../../app/chat_page.py" line="308"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="84"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="85"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="86"/>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="87"/>
        <location filename="../../app/chat_page.py" line="173"/>
        <source>Let the last reply go on where it stopped</source>
        <translation>让上一条回复从停下的地方继续</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="176"/>
        <source>Think modes are for RWKV-7 G0/G1 models; this model was not trained on them and would garble its replies</source>
        <translation>思考模式适用于 RWKV-7 G0/G1 模型；此模型未针对其训练，使用会让回复错乱</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="253"/>
        <source>Save reply</source>
        <translation>保存回复</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="254"/>
        <source>Editing the reply: Enter saves it as a new branch, Esc cancels</source>
        <translation>正在编辑回复：Enter 保存为新分支，Esc 取消</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="256"/>
        <source>Resend</source>
        <translation>重新发送</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="257"/>
        <source>Editing: Enter resends as a new branch, Esc cancels</source>
        <translation>正在编辑：Enter 作为新分支重新发送，Esc 取消</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="276"/>
        <source>There is no reply to copy yet</source>
        <translation>还没有可复制的回复</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="280"/>
        <source>Copied the message</source>
        <translation>已复制消息</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="289"/>
        <source>Wait for the reply to finish (or stop it) before deleting</source>
        <translation>请等待回复完成（或停止它）后再删除</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="292"/>
        <source>Delete this message? This cannot be undone.</source>
        <translation>删除这条消息？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="293"/>
        <source>Delete this message and the {0} message(s) after it, on every branch? This cannot be undone.</source>
        <translation>删除这条消息及其后所有分支上的 {0} 条消息？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="295"/>
        <source>Delete message</source>
        <translation>删除消息</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="339"/>
        <source>Copied 1 line of code</source>
        <translation>已复制 1 行代码</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="340"/>
        <source>Copied {0} lines of code</source>
        <translation>已复制 {0} 行代码</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="344"/>
        <source>Open link</source>
        <translation>打开链接</translation>
    </message>
    <message>
        <location filename="../../app/chat_page.py" line="345"/>
        <source>Open this address in your browser?

{0}</source>
        <translation>在浏览器中打开此地址？

{0}</translation>
    </message>
</context>
<context>
    <name>ChatSettingsPanel</name>
    <message>
        <location filename="../../app/chat_settings.py" line="30"/>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="33"/>
        <source>Temperature:</source>
        <translation>温度：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="34"/>
        <source>Higher is more varied; 0 always picks the likeliest token</source>
        <translation>越高越多样；0 总是选择可能性最大的 token</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="36"/>
        <source>Top-p:</source>
        <translation>Top-p：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="37"/>
        <source>Only the likeliest tokens that together reach this probability</source>
        <translation>只取可能性最大、合计达到此概率的 token</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="39"/>
        <source>Presence penalty:</source>
        <translation>存在惩罚：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="40"/>
        <source>Lowers tokens that already appeared</source>
        <translation>降低已出现过的 token 的概率</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="41"/>
        <source>Frequency penalty:</source>
        <translation>频率惩罚：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="42"/>
        <source>Lowers tokens by how often they appeared</source>
        <translation>按出现次数降低 token 的概率</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="43"/>
        <source>Penalty decay:</source>
        <translation>惩罚衰减：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="44"/>
        <source>How fast old tokens&apos; penalties fade (per token)</source>
        <translation>旧 token 的惩罚消退的速度（每个 token）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="56"/>
        <source>A starting point for the values below</source>
        <translation>下方数值的起点</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="58"/>
        <source>Preset:</source>
        <translation>预设：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="67"/>
        <source>off</source>
        <translation>关</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="68"/>
        <source>Only the k likeliest tokens (off: no limit)</source>
        <translation>只取可能性最大的 k 个 token（关：不限制）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="70"/>
        <source>Top-k:</source>
        <translation>Top-k：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="72"/>
        <source>The longest a reply may be, in tokens (Continue goes on past it)</source>
        <translation>回复的最大长度，以 token 计（“继续”可超出）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="74"/>
        <source>Max reply length:</source>
        <translation>最大回复长度：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="76"/>
        <source>The model&apos;s own</source>
        <translation>模型自带</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="79"/>
        <source>The role names around each turn: User/Assistant for RWKV World and G1, Bob/Alice for RWKV-4 Raven; from the next message on</source>
        <translation>每轮对话前后的角色名：RWKV World 和 G1 用 User/Assistant，RWKV-4 Raven 用 Bob/Alice；从下一条消息起生效</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="82"/>
        <source>Chat roles:</source>
        <translation>对话角色：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="83"/>
        <source>Instructions the model reads before the chat (optional)</source>
        <translation>模型在对话前读取的指示（可选）</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="85"/>
        <source>Apply system prompt</source>
        <translation>应用系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="86"/>
        <source>A chat that has begun continues in a new branch under the new prompt; the old branch stays</source>
        <translation>已开始的对话会在新提示词下以新分支继续；旧分支保留</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="93"/>
        <source>&lt;b&gt;This conversation&lt;/b&gt;</source>
        <translation>&lt;b&gt;此对话&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="95"/>
        <source>System prompt:</source>
        <translation>系统提示词：</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="123"/>
        <source>Changes apply from the next reply.</source>
        <translation>更改从下一条回复起生效。</translation>
    </message>
    <message>
        <location filename="../../app/chat_settings.py" line="124"/>
        <source>These settings are kept with the conversation.</source>
        <translation>这些设置随对话一起保存。</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../app/chat_view.py" line="21"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="21"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="22"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="57"/>
        <source>Ask the model something. Your conversation and its state are saved.</source>
        <translation>向模型提问吧。你的对话及其状态都会被保存。</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="160"/>
        <source>copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="160"/>
        <source>edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="160"/>
        <source>regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="160"/>
        <source>delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="172"/>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="172"/>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="173"/>
        <source>edited</source>
        <translation>已编辑</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="173"/>
        <source>cut at the reply length limit (Continue goes on)</source>
        <translation>已达回复长度上限而截断（“继续”可接着写）</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="176"/>
        <source> · prompt {0} tokens, {1} from the server&apos;s state cache</source>
        <translation> · 提示词 {0} token，其中 {1} 来自服务器的状态缓存</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="178"/>
        <source>{0} tokens · {1} tokens/s</source>
        <translation>{0} token · {1} token/秒</translation>
    </message>
    <message>
        <location filename="../../app/chat_view.py" line="184"/>
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
        <location filename="../../app/completion_panel.py" line="24"/>
        <source>Write the beginning of a text: the model continues it as it is, with no chat roles around it.</source>
        <translation>写下一段文本的开头：模型会按原样续写，不加对话角色。</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="25"/>
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="26"/>
        <source>Continue the text (Ctrl+Enter), with this conversation&apos;s sampling settings and reply length</source>
        <translation>续写文本（Ctrl+Enter），使用此对话的采样设置和回复长度</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="28"/>
        <location filename="../../app/completion_panel.py" line="84"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="57"/>
        <source>Writing…</source>
        <translation>正在续写…</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="72"/>
        <source>Plain completion needs a model on this computer.</source>
        <translation>纯文本续写需要本机上的模型。</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="83"/>
        <source>the end of the text</source>
        <translation>文本结束</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="83"/>
        <source>the length limit</source>
        <translation>长度上限</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="85"/>
        <source>{0} tokens in {1:.1f} s, ended by {2}</source>
        <translation>{0} token，用时 {1:.1f} 秒，结束原因：{2}</translation>
    </message>
    <message>
        <location filename="../../app/completion_panel.py" line="86"/>
        <source>The completion failed (see the message).</source>
        <translation>续写失败（见消息）。</translation>
    </message>
</context>
<context>
    <name>DataFolder</name>
    <message>
        <location filename="../../app/data_folder.py" line="59"/>
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
        <location filename="../../app/data_folder.py" line="64"/>
        <source>{error}

Choose another folder for your conversations, or quit.</source>
        <translation>{error}

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="67"/>
        <source>The data folder &apos;{folder}&apos; cannot be written ({error}).

Choose another folder for your conversations, or quit.</source>
        <translation>无法写入数据文件夹“{folder}”（{error}）。

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="85"/>
        <source>RWKV Desktop: conversations</source>
        <translation>RWKV Desktop：对话</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="86"/>
        <source>Start fresh</source>
        <translation>重新开始</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="87"/>
        <source>Choose another folder…</source>
        <translation>选择其他文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="88"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="97"/>
        <source>A folder for your conversations</source>
        <translation>选择存放对话的文件夹</translation>
    </message>
</context>
<context>
    <name>DownloadRow</name>
    <message>
        <location filename="../../app/downloads.py" line="131"/>
        <source>{0} of {1}</source>
        <translation>{0} / {1}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="135"/>
        <source> · {0} left</source>
        <translation> · 剩余 {0}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="139"/>
        <source>Paused at {0}</source>
        <translation>已暂停于 {0}</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="140"/>
        <source>Waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="144"/>
        <source>Cancelled; the partial file was deleted</source>
        <translation>已取消；部分下载的文件已删除</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="145"/>
        <source>Downloaded and verified ({0}): it is in the library</source>
        <translation>已下载并校验（{0}）：已在模型库中</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="161"/>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="162"/>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="163"/>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="164"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../app/downloads.py" line="165"/>
        <source>Load</source>
        <translation>加载</translation>
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
        <location filename="../../app/hub_search.py" line="48"/>
        <source>a name to search for, e.g. rwkv7, g1, world, a user name</source>
        <translation>要搜索的名称，例如 rwkv7、g1、world 或用户名</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="50"/>
        <source>Search Hugging Face</source>
        <translation>搜索 Hugging Face</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="53"/>
        <source>Repository / file</source>
        <translation>仓库 / 文件</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="53"/>
        <source>Generation</source>
        <translation>代</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="53"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="54"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="54"/>
        <source>Downloads</source>
        <translation>下载量</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="59"/>
        <source>Find RWKV models that the list above does not have; files are checked against the sha256 the Hub lists for them.</source>
        <translation>查找上方列表中没有的 RWKV 模型；文件会按 Hub 列出的 sha256 校验。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="62"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="79"/>
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="91"/>
        <source>{repo}
{likes} likes, updated {date}
tags: {tags}</source>
        <translation>{repo}
{likes} 个赞，更新于 {date}
标签：{tags}</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="95"/>
        <source>{n} RWKV repositories found; open one to see its files.</source>
        <translation>找到 {n} 个 RWKV 仓库；展开一个可查看其文件。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="96"/>
        <source>No RWKV repositories match “{query}”.</source>
        <translation>没有与“{query}”匹配的 RWKV 仓库。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="105"/>
        <source>Listing the files of {repo}…</source>
        <translation>正在列出 {repo} 的文件…</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="121"/>
        <source>{repo}: {n} files to download.</source>
        <translation>{repo}：{n} 个可下载的文件。</translation>
    </message>
    <message>
        <location filename="../../app/hub_search.py" line="123"/>
        <source>{n} left out (hover for why).</source>
        <translation>{n} 个未列出（悬停查看原因）。</translation>
    </message>
</context>
<context>
    <name>LocalServer</name>
    <message>
        <location filename="../../app/local_server.py" line="111"/>
        <source>The server could not start: {error}</source>
        <translation>服务器无法启动：{error}</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="113"/>
        <source>Could not start the local server</source>
        <translation>无法启动本地服务器</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="116"/>
        <source>Serving at {url}</source>
        <translation>正在 {url} 提供服务</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/window.py" line="46"/>
        <source>RWKV models (*.pth *.safetensors);;All files (*)</source>
        <translation>RWKV 模型 (*.pth *.safetensors);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="49"/>
        <source>State-tuning files (*.pth *.state *.safetensors);;All files (*)</source>
        <translation>状态微调文件 (*.pth *.state *.safetensors);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="76"/>
        <location filename="../../app/window.py" line="203"/>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="80"/>
        <source>Where the model runs, and in which precision</source>
        <translation>模型在哪里运行，以何种精度运行</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="85"/>
        <location filename="../../app/window.py" line="138"/>
        <source>Clear state tuning</source>
        <translation>清除状态微调</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="86"/>
        <source>New chats start from the model&apos;s own state again (chats begun with the tuning keep it)</source>
        <translation>新对话重新从模型自身的状态开始（用微调开始的对话保留微调）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="104"/>
        <source>Chat</source>
        <translation>对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="105"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="106"/>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="107"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="121"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="123"/>
        <source>Remote server (OpenAI-compatible)…</source>
        <translation>远程服务器（OpenAI 兼容）…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="124"/>
        <source>Chat with a model that a server runs: RWKV Desktop&apos;s, Ai00, llama.cpp, Ollama…</source>
        <translation>与服务器上运行的模型对话：RWKV Desktop、Ai00、llama.cpp、Ollama…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="125"/>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="127"/>
        <source>Open model folder…</source>
        <translation>打开模型文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="129"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="130"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="131"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="132"/>
        <source>Save conversation and state…</source>
        <translation>保存对话和状态…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="134"/>
        <source>Load conversation and state…</source>
        <translation>加载对话和状态…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="136"/>
        <source>Apply state-tuning file…</source>
        <translation>应用状态微调文件…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="141"/>
        <source>Export as Markdown…</source>
        <translation>导出为 Markdown…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="143"/>
        <source>Export as JSON…</source>
        <translation>导出为 JSON…</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="155"/>
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="156"/>
        <source>Search conversations and messages</source>
        <translation>搜索对话和消息</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="158"/>
        <source>Copy last reply</source>
        <translation>复制最后一条回复</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="161"/>
        <source>Edit last message</source>
        <translation>编辑最后一条消息</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="162"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="169"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="170"/>
        <location filename="../../app/window.py" line="381"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="171"/>
        <location filename="../../app/window.py" line="401"/>
        <source>About RWKV Desktop</source>
        <translation>关于 RWKV Desktop</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="191"/>
        <source>Remote server</source>
        <translation>远程服务器</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="192"/>
        <source>Remote: the server&apos;s state cache reads only each new turn</source>
        <translation>远程：服务器的状态缓存只读取每一轮新内容</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="194"/>
        <source>Remote: every message resends the chat</source>
        <translation>远程：每条消息都会重新发送整个对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="196"/>
        <source>State {0} MiB</source>
        <translation>状态 {0} MiB</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="197"/>
        <source>The whole chat lives in a state of this size: constant, whatever the length of the chat</source>
        <translation>整个对话都保存在这样大小的状态中：无论对话多长，大小不变</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="208"/>
        <source>&lt;b&gt;{0}&lt;/b&gt; — remote server {1}</source>
        <translation>&lt;b&gt;{0}&lt;/b&gt; — 远程服务器 {1}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="215"/>
        <source> · state tuning: {0}</source>
        <translation> · 状态微调：{0}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="217"/>
        <source>&lt;b&gt;{0}&lt;/b&gt; — RWKV-{1}, {2}M parameters · {3} {4}{5}</source>
        <translation>&lt;b&gt;{0}&lt;/b&gt; — RWKV-{1}，{2}M 参数 · {3} {4}{5}</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="229"/>
        <source>On the server</source>
        <translation>在服务器上</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="237"/>
        <source>needs ~{0} GiB · </source>
        <translation>需要约 {0} GiB · </translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="243"/>
        <source>  (does not fit)</source>
        <translation>  （放不下）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="260"/>
        <source>Open an RWKV model</source>
        <translation>打开 RWKV 模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="268"/>
        <source>Open a Hugging Face model folder</source>
        <translation>打开 Hugging Face 模型文件夹</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="303"/>
        <source>Apply a state-tuning file</source>
        <translation>应用状态微调文件</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="315"/>
        <source>Load a model first: a state-tuning file belongs to one model</source>
        <translation>请先加载模型：状态微调文件属于某一个模型</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="323"/>
        <source>Open a conversation to save it</source>
        <translation>请先打开一个对话再保存</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="326"/>
        <source>Save conversation and state</source>
        <translation>保存对话和状态</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="327"/>
        <source>RWKV Desktop conversations (*.rwkvchat)</source>
        <translation>RWKV Desktop 对话 (*.rwkvchat)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="336"/>
        <source>Open a conversation to export it</source>
        <translation>请先打开一个对话再导出</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="338"/>
        <source>Markdown (*.md)</source>
        <translation>Markdown (*.md)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="339"/>
        <source>JSON (*.json)</source>
        <translation>JSON (*.json)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="341"/>
        <source>Export the conversation</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="348"/>
        <source>Load conversation and state</source>
        <translation>加载对话和状态</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="349"/>
        <source>RWKV Desktop conversations (*.rwkvchat);;All files (*)</source>
        <translation>RWKV Desktop 对话 (*.rwkvchat);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="367"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="367"/>
        <source>New line</source>
        <translation>换行</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="371"/>
        <source> (in an empty message field)</source>
        <translation>（在空的消息框中）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="373"/>
        <source>Delete the selected conversation (in the list)</source>
        <translation>删除所选对话（在列表中）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="375"/>
        <source>Generate (plain completion)</source>
        <translation>生成（纯文本续写）</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="376"/>
        <source>Next field</source>
        <translation>下一个输入框</translation>
    </message>
    <message>
        <location filename="../../app/window.py" line="391"/>
        <source>&lt;h3&gt;RWKV Desktop {0}&lt;/h3&gt;&lt;p&gt;Runs RWKV language models on this computer: chats stay here, with their states.&lt;/p&gt;&lt;p&gt;&lt;b&gt;Data folder&lt;/b&gt; (conversations, states, settings):&lt;br&gt;{1}&lt;/p&gt;&lt;p&gt;&lt;b&gt;Licences&lt;/b&gt;: RWKV Desktop is under the Apache License 2.0. It uses Qt for Python (PySide6, LGPL-3.0), PyTorch (BSD-3-Clause), Hugging Face tokenizers, safetensors and huggingface_hub (Apache-2.0), Pygments (BSD-2-Clause), NumPy (BSD-3-Clause), Starlette and Uvicorn (BSD-3-Clause). RWKV models are published by their authors under their own licences (the official RWKV-7 models: Apache-2.0).&lt;/p&gt;</source>
        <translation>&lt;h3&gt;RWKV Desktop {0}&lt;/h3&gt;&lt;p&gt;在这台电脑上运行 RWKV 语言模型：对话及其状态都保存在本机。&lt;/p&gt;&lt;p&gt;&lt;b&gt;数据文件夹&lt;/b&gt;（对话、状态、设置）：&lt;br&gt;{1}&lt;/p&gt;&lt;p&gt;&lt;b&gt;许可证&lt;/b&gt;：RWKV Desktop 采用 Apache License 2.0。它使用了 Qt for Python（PySide6，LGPL-3.0）、PyTorch（BSD-3-Clause）、Hugging Face tokenizers、safetensors 和 huggingface_hub（Apache-2.0）、Pygments（BSD-2-Clause）、NumPy（BSD-3-Clause）、Starlette 和 Uvicorn（BSD-3-Clause）。RWKV 模型由其作者以各自的许可证发布（官方 RWKV-7 模型：Apache-2.0）。&lt;/p&gt;</translation>
    </message>
</context>
<context>
    <name>ModelsPage</name>
    <message>
        <location filename="../../app/models_page.py" line="86"/>
        <source>Models on this computer</source>
        <translation>本机上的模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="88"/>
        <location filename="../../app/models_page.py" line="121"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="88"/>
        <location filename="../../app/models_page.py" line="121"/>
        <source>Generation</source>
        <translation>代</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="88"/>
        <location filename="../../app/models_page.py" line="121"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="89"/>
        <source>Precision</source>
        <translation>精度</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="89"/>
        <location filename="../../app/models_page.py" line="122"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="89"/>
        <source>Fits</source>
        <translation>能否放下</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="89"/>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="93"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="94"/>
        <source>Open file…</source>
        <translation>打开文件…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="95"/>
        <source>Open folder…</source>
        <translation>打开文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="97"/>
        <source>Load a Hugging Face model folder (config.json and its weight files)</source>
        <translation>加载 Hugging Face 模型文件夹（config.json 及其权重文件）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="98"/>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="99"/>
        <source>Add a folder to search for models; they appear in this list</source>
        <translation>添加一个查找模型的文件夹；其中的模型会出现在此列表中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="100"/>
        <source>Rescan</source>
        <translation>重新扫描</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="101"/>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="102"/>
        <source>Delete the selected model from disk (you are asked first)</source>
        <translation>从磁盘删除所选模型（会先询问）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="105"/>
        <source>Remote server…</source>
        <translation>远程服务器…</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="106"/>
        <source>Chat with a model that an OpenAI-compatible server runs (RWKV Desktop&apos;s, Ai00, llama.cpp, Ollama…)</source>
        <translation>与 OpenAI 兼容服务器上运行的模型对话（RWKV Desktop、Ai00、llama.cpp、Ollama…）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="117"/>
        <location filename="../../app/models_page.py" line="128"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="122"/>
        <source>Tags</source>
        <translation>标签</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="126"/>
        <source>Older generations (RWKV-4, 5, 6)</source>
        <translation>较早的代（RWKV-4、5、6）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="141"/>
        <source>Official models</source>
        <translation>官方模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="142"/>
        <source>Search Hugging Face</source>
        <translation>搜索 Hugging Face</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="144"/>
        <source>State library</source>
        <translation>状态库</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="166"/>
        <source>Add a folder of models</source>
        <translation>添加模型文件夹</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="219"/>
        <source>  (loaded)</source>
        <translation>（已加载）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="224"/>
        <source>Opened from a file; add its folder (Add folder…) to keep it in the list</source>
        <translation>从文件打开；添加它所在的文件夹（添加文件夹…）可让它一直留在列表中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="226"/>
        <source>not usable</source>
        <translation>不可用</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="275"/>
        <source>The demo model comes with the app and cannot be deleted</source>
        <translation>演示模型随应用附带，无法删除</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="278"/>
        <source>{name} is loaded: load another model before deleting it</source>
        <translation>{name} 已加载：请先加载其他模型再删除它</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="284"/>
        <source>RWKV Desktop downloaded it; you can download it again later.</source>
        <translation>它是 RWKV Desktop 下载的；以后可以再次下载。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="286"/>
        <source>It is in the Hugging Face cache, which other programs share: they will not find it either.</source>
        <translation>它在 Hugging Face 缓存中，其他程序也共用此缓存：它们也将找不到它。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="289"/>
        <source>RWKV Desktop did not download it: it is your own file in {folder}. It is deleted, not moved to the trash.</source>
        <translation>它不是 RWKV Desktop 下载的：它是你在 {folder} 中的文件。它会被直接删除，而不是移到回收站。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="291"/>
        <source>Delete model</source>
        <translation>删除模型</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="292"/>
        <source>Delete {name}{amount} from disk?</source>
        <translation>从磁盘删除 {name}{amount}？</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="296"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="310"/>
        <source>Could not delete {name}: {error}</source>
        <translation>无法删除 {name}：{error}</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="314"/>
        <source>Deleted {name}; {gb:.2f} GB freed</source>
        <translation>已删除 {name}；释放了 {gb:.2f} GB</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="333"/>
        <source>this computer</source>
        <translation>这台电脑</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="336"/>
        <source>this computer&apos;s CPU ({0} RAM)</source>
        <translation>这台电脑的 CPU（{0} 内存）</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="342"/>
        <source>★ Recommended for {0}: &lt;b&gt;{1}&lt;/b&gt;</source>
        <translation>★ 为{0}推荐：&lt;b&gt;{1}&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="343"/>
        <source>No official RWKV-7 model fits {0}; the smallest ones may still run slowly.</source>
        <translation>没有适合{0}的官方 RWKV-7 模型；最小的模型或许仍能缓慢运行。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="346"/>
        <source>Bigger models would answer slower than {0} tokens/s on a typical CPU ({1} GB/s memory bandwidth assumed); they are in the list below.</source>
        <translation>更大的模型在普通 CPU 上回答速度会低于 {0} token/秒（按 {1} GB/s 内存带宽估算）；它们在下方列表中。</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="408"/>
        <source>{0} downloaded and verified; it is in the library</source>
        <translation>{0} 已下载并校验；已在模型库中</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="412"/>
        <source>Download of {0} failed: {1}</source>
        <translation>{0} 下载失败：{1}</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="443"/>
        <source>No device was detected</source>
        <translation>未检测到任何设备</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="447"/>
        <source>fits {0}: needs ~{1} GiB in {2}, {3} GiB there</source>
        <translation>{0} 放得下：{2} 精度需要约 {1} GiB，该设备有 {3} GiB</translation>
    </message>
    <message>
        <location filename="../../app/models_page.py" line="448"/>
        <source>does not fit {0}: needs ~{1} GiB in {2}, {3} GiB there</source>
        <translation>{0} 放不下：{2} 精度需要约 {1} GiB，该设备有 {3} GiB</translation>
    </message>
</context>
<context>
    <name>PrecisionProbe</name>
    <message>
        <location filename="../../app/precision_probe.py" line="104"/>
        <source>Measuring which precision runs fastest on this computer…</source>
        <translation>正在测量哪种精度在这台电脑上运行最快…</translation>
    </message>
    <message>
        <location filename="../../app/precision_probe.py" line="108"/>
        <source>Could not measure the precisions: {error}</source>
        <translation>无法测量精度：{error}</translation>
    </message>
    <message>
        <location filename="../../app/precision_probe.py" line="115"/>
        <source>Measured decode speed against fp32 here: {speeds}</source>
        <translation>本机测得的解码速度（相对 fp32）：{speeds}</translation>
    </message>
</context>
<context>
    <name>RemoteDialog</name>
    <message>
        <location filename="../../app/remote_dialog.py" line="33"/>
        <source>&lt;b&gt;RWKV Desktop&apos;s server.&lt;/b&gt; Every message resends the conversation, and the server&apos;s state cache reads only the new turn, so long chats stay quick. Save/load state and state tuning need a model on this computer.</source>
        <translation>&lt;b&gt;RWKV Desktop 的服务器。&lt;/b&gt;每条消息都会重新发送整段对话，而服务器的状态缓存只需读取新的一轮，因此长对话依然很快。保存/加载状态和状态微调需要在本机加载模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="37"/>
        <source>&lt;b&gt;An OpenAI-compatible server.&lt;/b&gt; Every message resends the whole conversation, which the server reads again. Continue, think modes, save/load state and state tuning are off.</source>
        <translation>&lt;b&gt;OpenAI 兼容服务器。&lt;/b&gt;每条消息都会重新发送整段对话，由服务器重新读取。续写、思考模式、保存/加载状态和状态微调均不可用。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="47"/>
        <source>Remote server (OpenAI-compatible)</source>
        <translation>远程服务器（OpenAI 兼容）</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="50"/>
        <source>The API&apos;s base address: …/v1 for most servers (RWKV Desktop, llama.cpp, Ollama), …/api/oai/v1 for Ai00</source>
        <translation>API 的基础地址：大多数服务器（RWKV Desktop、llama.cpp、Ollama）为 …/v1，Ai00 为 …/api/oai/v1</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="52"/>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="54"/>
        <source>Sent as &apos;Authorization: Bearer KEY&apos; to this address&apos;s host only</source>
        <translation>以“Authorization: Bearer KEY”的形式发送，且只发给该地址的主机</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="55"/>
        <source>List models</source>
        <translation>列出模型</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="67"/>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="71"/>
        <source>URL:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="72"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="75"/>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="104"/>
        <source>Choose a model.</source>
        <translation>请选择一个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="114"/>
        <source>Could not connect; see the message.</source>
        <translation>无法连接，请查看提示信息。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="129"/>
        <source>Enter the server&apos;s address and press &lt;b&gt;List models&lt;/b&gt;.</source>
        <translation>输入服务器地址，然后点击&lt;b&gt;列出模型&lt;/b&gt;。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="132"/>
        <source>{url}: 1 model.</source>
        <translation>{url}：1 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="132"/>
        <source>{url}: {n} models.</source>
        <translation>{url}：{n} 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="133"/>
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
        <location filename="../../app/server_page.py" line="157"/>
        <source>left</source>
        <translation>已断开</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="159"/>
        <source>{status} (stream)</source>
        <translation>{status}（流式）</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <location filename="../../app/settings_page.py" line="39"/>
        <source>A Hugging Face mirror, e.g. https://hf-mirror.com; empty for the Hub itself (or HF_ENDPOINT)</source>
        <translation>Hugging Face 镜像，例如 https://hf-mirror.com；留空则使用 Hub 本身（或 HF_ENDPOINT）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="45"/>
        <source>the Hugging Face cache (default)</source>
        <translation>Hugging Face 缓存（默认）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="47"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="54"/>
        <source>Add…</source>
        <translation>添加…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="55"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="61"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="61"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="61"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="67"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="69"/>
        <source>Hub endpoint (mirror):</source>
        <translation>Hub 地址（镜像）：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="71"/>
        <source>Download folder:</source>
        <translation>下载文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="72"/>
        <source>Model folders:</source>
        <translation>模型文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="74"/>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="76"/>
        <source>Theme:</source>
        <translation>主题：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="77"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="79"/>
        <source>Hardware</source>
        <translation>硬件</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="116"/>
        <source>Download models to</source>
        <translation>将模型下载到</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="130"/>
        <source>System ({language})</source>
        <translation>跟随系统（{language}）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="145"/>
        <location filename="../../app/settings_page.py" line="148"/>
        <source>Restart RWKV Desktop to use the new language.</source>
        <translation>重启 RWKV Desktop 后即可使用新语言。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="157"/>
        <source>{size} GiB RAM</source>
        <translation>{size} GiB 内存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="158"/>
        <source>{size} GiB VRAM</source>
        <translation>{size} GiB 显存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="160"/>
        <source> ({size} GiB free)</source>
        <translation>（可用 {size} GiB）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="161"/>
        <source>, {n} cores</source>
        <translation>，{n} 核</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="162"/>
        <source>, {flags}</source>
        <translation>，{flags}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="163"/>
        <source>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}, {memory}{features}; precisions {precisions}</source>
        <translation>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}，{memory}{features}；精度 {precisions}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="166"/>
        <source>No devices were detected.</source>
        <translation>未检测到任何设备。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="175"/>
        <source>“{text}” has no scheme: write https://{text} (or http://…) so it is clear how to reach it. Not saved.</source>
        <translation>“{text}”没有协议：请写成 https://{text}（或 http://…），以明确如何访问。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="178"/>
        <source>A mirror is an http:// or https:// address; “{text}” is not. Not saved.</source>
        <translation>镜像应是 http:// 或 https:// 地址；“{text}”不是。未保存。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="181"/>
        <source>“{text}” names no host. Not saved.</source>
        <translation>“{text}”没有主机名。未保存。</translation>
    </message>
</context>
<context>
    <name>Sidebar</name>
    <message>
        <location filename="../../app/sidebar.py" line="39"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="40"/>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="48"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="50"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="57"/>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="119"/>
        <source>Deleted “{0}”</source>
        <translation>已删除“{0}”</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="136"/>
        <source>Restored</source>
        <translation>已恢复</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="142"/>
        <source>Rename conversation</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <location filename="../../app/sidebar.py" line="142"/>
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
        <location filename="../../app/state_library.py" line="52"/>
        <source>New chats start from this state (File ▸ Clear state tuning undoes it)</source>
        <translation>新对话从此状态开始（文件 ▸ 清除状态微调 可撤销）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="53"/>
        <source>State-tuning files found in the download folder and your model folders.</source>
        <translation>在下载文件夹和你的模型文件夹中找到的状态微调文件。</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="64"/>
        <source>Find state-tuning files that the list above does not have; files are checked against the sha256 the Hub lists for them.</source>
        <translation>查找上方列表中没有的状态微调文件；文件会按 Hub 列出的 sha256 校验。</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="84"/>
        <source> (loaded)</source>
        <translation>（已加载）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="87"/>
        <source>{gen}{layers} layers × {width}</source>
        <translation>{gen}{layers} 层 × {width}</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="89"/>
        <source>no model here has this shape</source>
        <translation>本机没有此形状的模型</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="91"/>
        <source>Models with {layers} layers of width {width} ({heads} heads of {size})</source>
        <translation>{layers} 层、宽度 {width} 的模型（{heads} 个头，每个 {size}）</translation>
    </message>
    <message>
        <location filename="../../app/state_library.py" line="102"/>
        <source>Load the model this state belongs to first</source>
        <translation>请先加载此状态所属的模型</translation>
    </message>
</context>
</TS>
